"""The async job resource's wire shape: a job's status and, once it succeeded, the images answer."""

from __future__ import annotations

import msgspec

from gateway.wire.errors import ErrorBody
from gateway.wire.images import ImageData, ImagesUsage

__all__ = ["JobView"]


class JobView(msgspec.Struct, omit_defaults=True):
    id: str
    object: str
    status: str
    created: int
    model: str
    data: list[ImageData] | None = None
    size: str | None = None
    usage: ImagesUsage | None = None
    quality: str | None = None
    output_format: str | None = None
    background: str | None = None
    error: ErrorBody | None = None
