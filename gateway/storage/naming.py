"""Where a stored image lives: ``{prefix}{yyyy}/{mm}/{dd}/{request_id}-{i}.{ext}``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["CONTENT_TYPES", "EXTENSIONS", "FILE_NAME", "object_name", "valid_prefix"]

#: sniff_format's names -> file extension, and back to the type a file is served with.
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "BMP": "bmp"}
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "bmp": "image/bmp"}
#: Names the gateway makes, and so the only ones its file route will open (no "..", no sidecars).
FILE_NAME = re.compile(
    r"(?:[A-Za-z0-9_-]+/)*[0-9]{4}/[0-9]{2}/[0-9]{2}/[A-Za-z0-9_]{1,80}-[0-9]{1,3}\.(png|jpg|webp|bmp)"
)
_PREFIX = re.compile(r"(?:[A-Za-z0-9_-]+/)*")
_ID = re.compile(r"[^A-Za-z0-9_]")


def object_name(prefix: str, when: datetime, request_id: str, index: int, fmt: str) -> str:
    """The object's name; ``fmt`` is what :func:`providers.images.sniff_format` said."""
    day = when.astimezone(UTC)
    safe_id = _ID.sub("_", request_id)[:80] or "request"
    return f"{prefix}{day:%Y}/{day:%m}/{day:%d}/{safe_id}-{index}.{EXTENSIONS.get(fmt, 'png')}"


def valid_prefix(prefix: str) -> bool:
    """A prefix is folders ending in "/" (or nothing): it becomes part of every name."""
    return _PREFIX.fullmatch(prefix) is not None
