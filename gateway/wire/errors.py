"""The error shape every failure leaves the gateway in: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

import msgspec

__all__ = ["ErrorBody", "ErrorEnvelope"]


class ErrorBody(msgspec.Struct):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorEnvelope(msgspec.Struct):
    error: ErrorBody
