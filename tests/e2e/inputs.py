"""Input images for edit and chat tests, made in memory."""

from __future__ import annotations

import base64
import io
import os

import httpx
from PIL import Image

__all__ = ["data_uri", "emulator_posts", "image_bytes", "noise_png", "upload"]


def image_bytes(width: int, height: int, fmt: str = "PNG", mode: str = "RGB") -> bytes:
    color = {"RGB": (40, 120, 200), "RGBA": (40, 120, 200, 90), "L": 128, "P": 3}[mode]
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, fmt)
    return out.getvalue()


def noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: about width * height * 3 bytes."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "PNG", compress_level=0)
    return out.getvalue()


def upload(width: int, height: int, name: str = "in.png", **kwargs: str) -> tuple[str, bytes, str]:
    """A file tuple for the openai SDK's images.edit."""
    fmt = kwargs.get("fmt", "PNG")
    return name, image_bytes(width, height, fmt, kwargs.get("mode", "RGB")), f"image/{fmt.lower()}"


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def emulator_posts(url: str) -> list[dict]:  # type: ignore[type-arg]
    """The POSTs the emulator received since its log was last cleared."""
    return [r for r in httpx.get(url + "/__emulator__/requests", timeout=30).json() if r["method"] == "POST"]
