"""DashScope error codes -> OpenAI-shaped errors (https://www.alibabacloud.com/help/en/model-studio/error-code).

Keyed on DashScope's ``code``, never on message text; the HTTP status decides
only for codes this table does not know.
"""

from __future__ import annotations

from providers.errors import (
    ApiError,
    ContentPolicyViolation,
    InsufficientQuota,
    ModelNotActivated,
    ModelNotFound,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInvalidParameter,
)

__all__ = ["COMPAT_CODES", "error_for_code"]

#: Compatible mode spells some native codes its own way; both spellings are read.
COMPAT_CODES = {
    "invalid_parameter_error": "InvalidParameter",
    "invalid_api_key": "InvalidApiKey",
    "data_inspection_failed": "DataInspectionFailed",
    "access_denied": "AccessDenied",
    "model_not_found": "ModelNotFound",
    "throttling": "Throttling",
    "limit_requests": "Throttling.RateQuota",
    "limit_burst_rate": "Throttling.BurstRate",
    "insufficient_quota": "Throttling.AllocationQuota",
    "internal_error": "InternalError",
}

_EXACT: dict[str, type[ApiError]] = {
    "DataInspectionFailed": ContentPolicyViolation,
    "IPInfringementSuspect": ContentPolicyViolation,
    "Throttling": RateLimited,
    "Throttling.RateQuota": RateLimited,
    "Throttling.BurstRate": RateLimited,
    "Throttling.AllocationQuota": InsufficientQuota,
    "AllocationQuota.FreeTierOnly": InsufficientQuota,
    "Arrearage": InsufficientQuota,
    "CommodityNotPurchased": InsufficientQuota,
    "PrepaidBillOverdue": InsufficientQuota,
    "PostpaidBillOverdue": InsufficientQuota,
    "InvalidApiKey": UpstreamAuthError,
    "NOT AUTHORIZED": UpstreamAuthError,
    "ModelNotFound": ModelNotFound,
}

_PREFIXES: tuple[tuple[str, type[ApiError]], ...] = (
    ("InternalError.Algo.InvalidParameter", UpstreamInvalidParameter),
    ("InvalidParameter", UpstreamInvalidParameter),
    ("InvalidURL", UpstreamInvalidParameter),
    ("InvalidImage", UpstreamInvalidParameter),
    ("InvalidFile", UpstreamInvalidParameter),
    ("BadRequest", UpstreamInvalidParameter),
    ("AccessDenied", ModelNotActivated),
    ("Model.AccessDenied", ModelNotActivated),
    ("Workspace.AccessDenied", ModelNotActivated),
    ("InternalError", UpstreamError),
    ("SystemError", UpstreamError),
    ("RequestTimeOut", UpstreamError),
    ("ModelServingError", UpstreamError),
    ("ModelUnavailable", UpstreamError),
)

#: Codes DashScope documents as "try again later": the call was turned away and made
#: (and billed) nothing, so the same call may be sent again.
_TRY_AGAIN = ("InternalError", "SystemError", "ModelServingError", "ModelUnavailable")

_BY_STATUS: dict[int, type[ApiError]] = {
    400: UpstreamInvalidParameter,
    401: UpstreamAuthError,
    403: ModelNotActivated,
    404: ModelNotFound,
    429: RateLimited,
}


def _error_class(code: str, status: int) -> type[ApiError]:
    if code in _EXACT:
        return _EXACT[code]
    for prefix, cls in _PREFIXES:
        if code.startswith(prefix):
            return cls
    return _BY_STATUS.get(status, UpstreamError)


def error_for_code(
    code: str | None,
    message: str | None,
    *,
    status: int,
    request_id: str | None,
    retry_after: float | None = None,
) -> ApiError:
    """The error to raise for a DashScope error body or a FAILED task."""
    code = code or f"HTTP {status}"
    cls = _error_class(code, status)
    text = f"DashScope {code}: {message or 'no message'}"
    if cls is UpstreamAuthError:
        text = f"The upstream rejected the gateway's provider key (DashScope {code})"
    elif cls is ModelNotActivated:
        text = f"{text}. The model is not activated for the gateway's DashScope account"
    refused = cls is UpstreamError and code.startswith(_TRY_AGAIN)
    return cls(
        text,
        upstream_code=code,
        upstream_request_id=request_id,
        retry_after=retry_after,
        evidence="refused" if refused else None,
    )
