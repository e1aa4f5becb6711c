"""DashScope error codes and messages as one exception type."""

from __future__ import annotations


class EmuError(Exception):
    """A DashScope error answer. ``status`` 200 is the 'business error inside HTTP 200' fault."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


MSG_INTERNAL = "An internal error has occured, please try again later or contact service support."
MSG_TIMEOUT = (
    "An internal timeout error has occured during execution, please try again later or contact service support."
)
MSG_ALGO = "An error occurred in model serving, error message is: [emulated model failure]"
MSG_INSPECTION_IN = "Input data may contain inappropriate content."
MSG_INSPECTION_OUT = "Output data may contain inappropriate content."
MSG_IP = "Input data is suspected of being involved in IP infringement."
MSG_RATE = "Requests rate limit exceeded, please try again later."
MSG_CANCEL = "Failed to cancel the task, please confirm if the task is in PENDING status."


def invalid(message: str) -> EmuError:
    return EmuError(400, "InvalidParameter", message)


def no_key() -> EmuError:
    return EmuError(401, "InvalidApiKey", "No API-key provided.")


def bad_key() -> EmuError:
    return EmuError(401, "InvalidApiKey", "Invalid API-key provided.")


def model_not_found() -> EmuError:
    return EmuError(404, "ModelNotFound", "Model can not be found.")


def not_found(path: str) -> EmuError:
    return EmuError(404, "NotFound", f"The requested resource {path} was not found.")


def no_sync() -> EmuError:
    return EmuError(403, "AccessDenied", "current user api does not support synchronous calls")


def no_async() -> EmuError:
    return EmuError(403, "AccessDenied", "current user api does not support asynchronous calls")


def rate_quota() -> EmuError:
    return EmuError(429, "Throttling.RateQuota", MSG_RATE)


def internal() -> EmuError:
    return EmuError(500, "InternalError", MSG_INTERNAL)
