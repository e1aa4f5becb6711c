"""Error answers from OpenAI-compatible upstreams -> gateway errors.

Reads OpenAI's envelope (``{"error": {"message", "type", "param", "code"}}``) and
DashScope's flat one (``{"code", "message", "request_id"}``); the HTTP status
decides the class, the upstream's ``code`` and ``param`` are kept where they mean
the same to the client.
"""

from __future__ import annotations

import msgspec

from providers.base import HttpResponse
from providers.errors import (
    ApiError,
    ContentPolicyViolation,
    InsufficientQuota,
    ModelNotActivated,
    ModelNotFound,
    PermissionDenied,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInvalidParameter,
    UpstreamTimeout,
)

__all__ = ["decode_error", "error_for"]

_POLICY_CODES = frozenset(
    {"content_policy_violation", "moderation_blocked", "data_inspection_failed", "content_filter"}
)


class _ErrorDetail(msgspec.Struct):
    message: str | None = None
    type: str | None = None
    param: str | None = None
    code: str | int | None = None


class _ErrorBody(msgspec.Struct):
    error: _ErrorDetail | str | None = None
    code: str | None = None
    message: str | None = None
    request_id: str | None = None


def decode_error(response: HttpResponse) -> _ErrorBody | None:
    try:
        return msgspec.json.decode(response.body, type=_ErrorBody)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None


def _fields(body: _ErrorBody | None, status: int) -> tuple[str, str | None, str | None]:
    """Message, code and param of an error body (OpenAI's envelope, or DashScope's flat one)."""
    if body is None:
        return f"HTTP {status}", None, None
    if isinstance(body.error, _ErrorDetail):
        detail = body.error
        code = str(detail.code) if detail.code is not None else None
        return detail.message or f"HTTP {status}", code, detail.param
    if isinstance(body.error, str):
        return body.error, body.code, None
    return body.message or f"HTTP {status}", body.code, None


def _not_found(message: str, code: str | None, body: _ErrorBody | None, request_id: str | None) -> ApiError:
    if code == "model_not_supported":
        # DashScope's compatible mode serves no image models: it answers 404 model_not_supported.
        return ModelNotFound(
            f"The OpenAI-compatible upstream does not serve this model ({message}). DashScope's compatible "
            "mode has no image models: serve them from a provider of kind 'dashscope' (its native API)",
            param="model",
            code="model_not_supported",
            upstream_request_id=request_id,
        )
    if body is None:
        return UpstreamError(
            "The upstream has no such endpoint (HTTP 404): check the provider's base_url and image_api",
            retryable=False,
            upstream_request_id=request_id,
        )
    return ModelNotFound(f"Upstream: {message}", param="model", code=code, upstream_request_id=request_id)


def _client_error(status: int, message: str, code: str | None, param: str | None, rid: str | None) -> ApiError:
    if status == 403:
        # Not the upstream's words: some upstreams report a bad key with 403 and quote part of it.
        cls = ModelNotActivated if code == "model_not_activated" else PermissionDenied
        return cls(f"The upstream refused access (HTTP 403, code {code or 'none'})", code=code, upstream_request_id=rid)
    if code in _POLICY_CODES:
        return ContentPolicyViolation(f"Upstream: {message}", param=param, upstream_request_id=rid)
    return UpstreamInvalidParameter(f"Upstream: {message}", param=param, code=code, upstream_request_id=rid)


def error_for(response: HttpResponse) -> ApiError:
    """The gateway error for an upstream error answer."""
    status = response.status
    body = decode_error(response)
    message, code, param = _fields(body, status)
    rid = (body.request_id if body else None) or response.headers.get("x-request-id")
    if status == 401:
        # Never echo the upstream's message: some quote part of the key.
        return UpstreamAuthError(
            "The OpenAI-compatible upstream rejected the gateway's provider key", upstream_request_id=rid
        )
    if status == 404:
        return _not_found(message, code, body, rid)
    if status == 429:
        if code == "insufficient_quota":
            return InsufficientQuota(f"Upstream: {message}", upstream_request_id=rid)
        return RateLimited(f"Upstream: {message}", retry_after=response.retry_after, upstream_request_id=rid)
    if status in (408, 409) or status >= 500:
        # Another gateway says when it has already retried: do not multiply its attempts.
        retryable = response.headers.get("x-should-retry", "").lower() != "false"
        if status in (502, 504):
            # A proxy gave up waiting: the work may still run behind it, so this target
            # is not asked again, but another one may be.
            cls = UpstreamTimeout if status == 504 else UpstreamError
            return cls(f"Upstream HTTP {status}: {message}", retryable=retryable, upstream_request_id=rid)
        return UpstreamError(
            f"Upstream HTTP {status}: {message}", retryable=retryable, upstream_request_id=rid, evidence="refused"
        )
    return _client_error(status, message, code, param, rid)
