"""Errors with OpenAI semantics, shared by adapters and the gateway.

Every error carries what the client will see: HTTP status, OpenAI ``type`` and
``code``, the offending ``param``. Adapters raise them when translating an
upstream answer; the gateway renders them as ``{"error": {...}}``.

ApiError
 ├── InvalidRequest              400 invalid_request_error (gateway-side validation)
 │    ├── UnsupportedParameter   400 unsupported_parameter
 │    ├── UpstreamInvalidParameter 400 invalid_parameter (DashScope InvalidParameter)
 │    ├── ContentPolicyViolation 400 content_policy_violation
 │    └── UnsupportedContentType 415 unsupported_content_type
 ├── AuthenticationError         401 invalid_api_key (gateway keys)
 ├── PermissionDenied            403
 │    └── ModelNotActivated      403 model_not_activated
 ├── ModelNotFound               404 model_not_found
 ├── RateLimited                 429 rate_limit_exceeded (retry-after)
 ├── InsufficientQuota           429 insufficient_quota (never retry)
 ├── UpstreamError               502 upstream_error
 │    ├── UpstreamAuthError      502 upstream_auth_error (provider key rejected)
 │    └── DownloadError          502 upstream_error (a result could not be fetched)
 ├── ServiceUnavailable          503
 └── UpstreamTimeout             504 upstream_timeout
"""

from __future__ import annotations

from typing import Literal

from providers.redact import scrub

__all__ = [
    "TOO_DEEP",
    "ApiError",
    "AuthenticationError",
    "ContentPolicyViolation",
    "DownloadError",
    "Evidence",
    "InsufficientQuota",
    "InvalidRequest",
    "ModelNotActivated",
    "ModelNotFound",
    "PermissionDenied",
    "RateLimited",
    "ServiceUnavailable",
    "UnsupportedContentType",
    "UnsupportedParameter",
    "UpstreamAuthError",
    "UpstreamError",
    "UpstreamInvalidParameter",
    "UpstreamTimeout",
]


#: What a failure proves about work done upstream, which decides what may be sent again.
#: "refused": turned away before any work (throttled, never connected, an error the
#: provider documents as try-again, which delivers and bills nothing): the same call may
#: be retried. "failed": the upstream reported a failure, so nothing was delivered, but
#: the call is not repeated on that target (a proxy's 502/504 may hide work still
#: running); another target may be tried. "unknown": images may have been made and billed
#: (an answer that could not be read, a connection that broke after sending): never
#: sent again, to any target.
Evidence = Literal["refused", "failed", "unknown"]


#: msgspec gives up (RecursionError) somewhere under a thousand levels of nesting.
TOO_DEEP = "The request body is nested too deeply to be a request"


class ApiError(Exception):
    status: int = 500
    type: str = "api_error"
    default_code: str | None = None
    #: The engine may try the same call again (5xx, throttling, network).
    retryable: bool = False
    #: The gateway already retried (or retrying cannot help): tell OpenAI SDKs
    #: not to multiply the attempts (``x-should-retry: false``).
    final: bool = False
    #: Raised for an async task that ended upstream (FAILED, or no image made): the task
    #: is over and unbilled, so submitting it again is safe. Any other error met while
    #: polling leaves the task's fate unknown.
    task_ended: bool = False
    evidence: Evidence = "failed"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        upstream_code: str | None = None,
        upstream_request_id: str | None = None,
        retryable: bool | None = None,
        evidence: Evidence | None = None,
    ) -> None:
        # Messages, codes and request ids may quote the upstream: scrubbed here, once, so
        # every place an error is rendered, stored or logged gets the clean text.
        if upstream_request_id:
            upstream_request_id = scrub(upstream_request_id, 128)
            message = f"{scrub(message)} (upstream request_id: {upstream_request_id})"
        else:
            message = scrub(message)
        super().__init__(message)
        self.message = message
        self.param = scrub(param, 128) if param is not None else None
        code = code if code is not None else self.default_code
        self.code = scrub(code, 128) if code is not None else None
        self.retry_after = retry_after
        # A metric label and a log field: the upstream's words too.
        self.upstream_code = scrub(upstream_code, 128) if upstream_code else upstream_code
        self.upstream_request_id = upstream_request_id
        if retryable is not None:
            self.retryable = retryable
        if evidence is not None:
            self.evidence = evidence

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class InvalidRequest(ApiError):
    status = 400
    type = "invalid_request_error"


class UnsupportedParameter(InvalidRequest):
    default_code = "unsupported_parameter"


class UpstreamInvalidParameter(InvalidRequest):
    default_code = "invalid_parameter"


class ContentPolicyViolation(InvalidRequest):
    default_code = "content_policy_violation"


class UnsupportedContentType(InvalidRequest):
    status = 415
    default_code = "unsupported_content_type"


class AuthenticationError(ApiError):
    status = 401
    type = "invalid_request_error"
    default_code = "invalid_api_key"


class PermissionDenied(ApiError):
    status = 403
    type = "permission_error"
    default_code = "permission_denied"


class ModelNotActivated(PermissionDenied):
    default_code = "model_not_activated"


class ModelNotFound(ApiError):
    status = 404
    type = "invalid_request_error"
    default_code = "model_not_found"


class RateLimited(ApiError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    retryable = True
    final = True
    evidence: Evidence = "refused"


class InsufficientQuota(ApiError):
    status = 429
    type = "insufficient_quota"
    default_code = "insufficient_quota"
    final = True


class UpstreamError(ApiError):
    status = 502
    type = "api_error"
    default_code = "upstream_error"
    retryable = True
    final = True


class UpstreamAuthError(UpstreamError):
    default_code = "upstream_auth_error"
    retryable = False
    final = True


class DownloadError(UpstreamError):
    retryable = False


class ServiceUnavailable(ApiError):
    status = 503
    type = "api_error"
    default_code = "service_unavailable"


class UpstreamTimeout(ApiError):
    status = 504
    type = "api_error"
    default_code = "upstream_timeout"
    final = True
