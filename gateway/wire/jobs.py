"""The async job resource's wire shapes: a job's status (once it succeeded, with the images answer),
and the webhook event that announces its end."""

from __future__ import annotations

import msgspec

from gateway.wire.errors import ErrorBody
from gateway.wire.images import ImageData, ImagesUsage

__all__ = ["JobEvent", "JobView"]


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


class JobEvent(msgspec.Struct):
    """A Standard Webhooks payload: ``image.job.succeeded`` or ``image.job.failed``."""

    type: str
    #: When the job ended, ISO 8601 in UTC.
    timestamp: str
    #: The job exactly as ``GET /v1/images/jobs/{id}`` answers it.
    data: JobView
