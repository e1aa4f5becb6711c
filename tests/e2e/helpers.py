"""Helpers for end-to-end assertions."""

from __future__ import annotations

import base64
import io

import httpx
from PIL import Image

__all__ = ["png_size", "png_size_from_b64", "png_size_from_url"]


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), data[:16]
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # a real, complete PNG, not just a header
        assert image.format == "PNG"
        return image.size


def png_size_from_b64(b64: str) -> tuple[int, int]:
    return png_size(base64.b64decode(b64))


def png_size_from_url(url: str) -> tuple[int, int]:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, (url, response.status_code)
    assert response.headers["content-type"].startswith("image/png")
    return png_size(response.content)
