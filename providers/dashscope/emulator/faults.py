"""Deterministic fault markers: ``[emu:NAME]`` or ``[emu:NAME=VALUE]`` inside the prompt (see package doc)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import (
    MSG_ALGO,
    MSG_INSPECTION_IN,
    MSG_INSPECTION_OUT,
    MSG_INTERNAL,
    MSG_IP,
    MSG_RATE,
    EmuError,
    invalid,
)

_MARKER = re.compile(r"\[emu:([a-z0-9-]+)(?:=([^\]]*))?\]")

_Answer = tuple[int, str, str]

# Step 6 of the validation order: entitlement and billing state of the account.
ENTITLEMENT: dict[str, _Answer] = {
    "unpurchased": (
        403,
        "AccessDenied.Unpurchased",
        "Access to model denied. Please make sure you are eligible for using the model.",
    ),
    "arrearage": (400, "Arrearage", "Access denied, please make sure your account is in good standing."),
    "free-tier-only": (
        403,
        "AllocationQuota.FreeTierOnly",
        "The free tier of the model has been exhausted. "
        "If you want to continue access the model on a paid basis, "
        'please disable the "use free tier only" mode in the management console.',
    ),
    "billing": (429, "PrepaidBillOverdue", "The prepaid bill is overdue."),
    "quota": (
        429,
        "Throttling.AllocationQuota",
        "Allocated quota exceeded, please increase your quota limit.",
    ),
}
# Step 9: rate limiting.
THROTTLE: dict[str, _Answer] = {
    "throttle": (429, "Throttling", "Requests throttling triggered."),
    "throttle-rate": (429, "Throttling.RateQuota", MSG_RATE),
    "throttle-burst": (
        429,
        "Throttling.BurstRate",
        "Request rate increased too quickly, please slow down and try again later.",
    ),
}
# Step 10: the call is refused after validation.
REFUSAL: dict[str, _Answer] = {
    "http-500": (500, "InternalError", MSG_INTERNAL),
    "http-503": (503, "ModelUnavailable", "Model is unavailable, please try again later."),
    "business-200": (200, "InternalError", MSG_INTERNAL),
}
MSG_INPUT_DOWNLOAD = "Reference image download failed, please check image url."
# Sync answers decided before generation (input moderation) and after it.
SYNC_BEFORE: dict[str, _Answer] = {
    "data-inspection": (400, "DataInspectionFailed", MSG_INSPECTION_IN),
    "ip-infringement": (400, "IPInfringementSuspect", MSG_IP),
    # An input image DashScope could not fetch: HTTP 415 on sync calls, a FAILED task on async ones.
    "input-download-failed": (415, "BadRequest.InputDownloadFailed", MSG_INPUT_DOWNLOAD),
}
SYNC_AFTER: dict[str, _Answer] = {
    "data-inspection-output": (400, "DataInspectionFailed", MSG_INSPECTION_OUT),
    "internal-error": (500, "InternalError", MSG_INTERNAL),
    "algo-error": (500, "InternalError.Algo", MSG_ALGO),
    "all-failed": (500, "InternalError", MSG_INTERNAL),
}
_COUNTED = frozenset({"flaky", "flaky-throttle", "flaky-task"})
_FLAGS = frozenset(
    {*ENTITLEMENT, *THROTTLE, *REFUSAL, *SYNC_BEFORE, *SYNC_AFTER}
    | {"partial", "stuck", "unknown", "canceled", "expired-url", "broken-url", "html-url", "wide-2k"}
)


@dataclass(frozen=True, slots=True)
class Faults:
    flags: frozenset[str] = frozenset()
    counts: tuple[tuple[str, int], ...] = ()
    latency: float | None = None

    def has(self, name: str) -> bool:
        return name in self.flags

    def count(self, name: str) -> int:
        return dict(self.counts).get(name, 0)


NO_FAULTS = Faults()


def parse_faults(prompt: str) -> Faults:
    """Read the markers of a prompt; an unknown marker or a bad value is an InvalidParameter."""
    flags: set[str] = set()
    counts: dict[str, int] = {}
    latency: float | None = None
    for match in _MARKER.finditer(prompt):
        name, value = match.group(1), match.group(2)
        if name in _FLAGS:
            flags.add(name)
        elif name in _COUNTED:
            if value is None or not value.isdigit():
                raise invalid(f"emulator marker {name} needs a whole number, e.g. [emu:{name}=2]")
            counts[name] = int(value)
        elif name == "latency":
            latency = _seconds(value)
        else:
            raise invalid(f"unknown emulator marker [emu:{name}]")
    return Faults(frozenset(flags), tuple(sorted(counts.items())), latency)


def _seconds(value: str | None) -> float:
    try:
        seconds = float(value or "")
    except ValueError:
        seconds = -1.0
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise invalid("emulator marker latency needs seconds, e.g. [emu:latency=2.5]")
    return seconds


def raise_marked(faults: Faults, table: dict[str, _Answer]) -> None:
    for name, (status, code, message) in table.items():
        if faults.has(name):
            raise EmuError(status, code, message)


class FlakyCounter:
    """Counts calls per (marker, exact prompt) so that the first N of them fail."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {}

    def fails(self, faults: Faults, name: str, prompt: str) -> bool:
        limit = faults.count(name)
        if limit <= 0:
            return False
        seen = self._seen.get((name, prompt), 0) + 1
        self._seen[(name, prompt)] = seen
        return seen <= limit


def check_refusal(faults: Faults, flaky: FlakyCounter, prompt: str) -> None:
    """Step 10 faults that refuse the submit or sync call itself."""
    raise_marked(faults, REFUSAL)
    if flaky.fails(faults, "flaky", prompt):
        raise EmuError(500, "InternalError", MSG_INTERNAL)
    if flaky.fails(faults, "flaky-throttle", prompt):
        raise EmuError(429, "Throttling.RateQuota", MSG_RATE)


@dataclass(frozen=True, slots=True)
class Fate:
    """How an accepted task ends. ``early`` failures end as soon as the task leaves PENDING."""

    status: str = "SUCCEEDED"
    code: str | None = None
    message: str | None = None
    early: bool = False


_TASK_FAILURES: tuple[tuple[str, str, str, bool], ...] = (
    ("data-inspection", "DataInspectionFailed", MSG_INSPECTION_IN, True),
    ("input-download-failed", "BadRequest.InputDownloadFailed", MSG_INPUT_DOWNLOAD, True),
    ("ip-infringement", "IPInfringementSuspect", MSG_IP, True),
    ("data-inspection-output", "DataInspectionFailed", MSG_INSPECTION_OUT, False),
    ("internal-error", "InternalError", MSG_INTERNAL, False),
    ("algo-error", "InternalError.Algo", MSG_ALGO, False),
)


def task_fate(faults: Faults, flaky: FlakyCounter, prompt: str) -> Fate:
    if faults.has("unknown"):
        return Fate("UNKNOWN", early=True)
    if faults.has("canceled"):
        return Fate("CANCELED", early=True)
    for name, code, message, early in _TASK_FAILURES:
        if faults.has(name):
            return Fate("FAILED", code, message, early)
    if flaky.fails(faults, "flaky-task", prompt):
        return Fate("FAILED", "InternalError", MSG_INTERNAL)
    return Fate()
