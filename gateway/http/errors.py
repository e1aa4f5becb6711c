"""Every error leaves the gateway as ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from gateway.observability.context import current_request
from gateway.wire.errors import ErrorBody, ErrorEnvelope
from providers.errors import ApiError

__all__ = ["EXCEPTION_HANDLERS", "error_response"]

log = logging.getLogger(__name__)

_DEFAULT_RETRY_AFTER = {429: 2.0, 503: 5.0}
_HTTP_TYPES = {
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def _body(message: str, type_: str, param: str | None, code: str | None) -> bytes:
    return msgspec.json.encode(ErrorEnvelope(ErrorBody(message, type_, param, code)))


def error_response(err: ApiError) -> Response[bytes]:
    headers: dict[str, str] = {}
    if err.status in _DEFAULT_RETRY_AFTER:
        seconds = err.retry_after if err.retry_after is not None else _DEFAULT_RETRY_AFTER[err.status]
        headers["retry-after"] = str(max(1, min(120, math.ceil(seconds))))
    if err.final:
        headers["x-should-retry"] = "false"
    return Response(
        _body(err.message, err.type, err.param, err.code),
        status_code=err.status,
        media_type="application/json",
        headers=headers,
    )


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[bytes]:
    ctx = current_request()
    if ctx is not None:
        ctx.error_code = exc.code  # for the access log line
    return error_response(exc)


def _http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    type_, code = _HTTP_TYPES.get(exc.status_code, ("invalid_request_error", None))
    if exc.status_code >= 500:
        type_ = "api_error"
    message = exc.detail or "request failed"
    if exc.status_code == 404:
        message = "Unknown endpoint. This gateway serves the OpenAI API under /v1"
    return Response(
        _body(message, type_, None, code),
        status_code=exc.status_code,
        media_type="application/json",
        headers=dict(exc.headers or {}),
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # The traceback goes to the log only; the client gets no internals.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        _body("The gateway hit an internal error", "api_error", None, "internal_error"),
        status_code=500,
        media_type="application/json",
    )


EXCEPTION_HANDLERS: dict[type, Callable[..., Response[bytes]]] = {
    ApiError: _api_error,
    HTTPException: _http_exception,
    Exception: _unexpected,
}
