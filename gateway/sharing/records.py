"""Answers and errors as bytes, for state other replicas read (cache, single-flight, jobs)."""

from __future__ import annotations

import msgspec

from gateway.wire.images import ImagesResponse
from providers.errors import ApiError

__all__ = ["AnswerRecord", "ErrorRecord", "RelayedError", "error_record"]


class AnswerRecord(msgspec.Struct, frozen=True):
    response: ImagesResponse
    provider: str
    model: str
    size_sent: str | None = None


class ErrorRecord(msgspec.Struct, frozen=True):
    status: int
    type: str
    message: str
    param: str | None = None
    code: str | None = None
    retry_after: float | None = None
    final: bool = False
    retryable: bool = False


class RelayedError(ApiError):
    """An error another replica (or an earlier run of a job) raised, as the client saw it."""

    def __init__(self, record: ErrorRecord) -> None:
        super().__init__(
            record.message,
            param=record.param,
            code=record.code,
            retry_after=record.retry_after,
            retryable=record.retryable,
        )
        self.status = record.status
        self.type = record.type
        self.final = record.final


def error_record(err: ApiError) -> ErrorRecord:
    return ErrorRecord(
        err.status, err.type, err.message, err.param, err.code, err.retry_after, err.final, err.retryable
    )
