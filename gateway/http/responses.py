"""Answers the routes share: JSON bodies, the status for a client that left, the large-body limit."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response

__all__ = ["CLIENT_CLOSED", "LARGE_BODY_BYTES", "json_response"]

#: Routes that carry input images: 9 images of 20 MiB (wan2.7's limits) as base64 data
#: URIs in JSON (x4/3), plus the rest of the body. Other routes keep the app's 10 MiB.
LARGE_BODY_BYTES = 256 * 1024 * 1024
#: Nginx's code for "client closed request": nobody reads it, logs and metrics do.
CLIENT_CLOSED = 499


def json_response(payload: Any, headers: dict[str, str] | None = None, status: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(payload), status_code=status, media_type="application/json", headers=headers)
