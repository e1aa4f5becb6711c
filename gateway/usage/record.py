"""One usage record: what one image request (or async job) asked for, got and cost."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import msgspec

from gateway.observability.context import RequestContext
from providers.errors import ApiError

if TYPE_CHECKING:
    from gateway.wire.images import ImagesResponse

__all__ = ["JOB_ROUTE", "USAGE_ROUTES", "UsageRecord", "UsageSink", "for_job", "from_context", "pixels_of", "utc_day"]

#: The routes whose every request is one record: the image routes, and chat and Responses
#: (an image request there goes through the image service; a text chat proxied to an
#: OpenAI-compatible upstream is recorded too, with no images).
USAGE_ROUTES = frozenset(
    {
        "/v1/images/generations",
        "/v1/images/edits",
        "/v1/images/variations",
        "/v1/chat/completions",
        "/v1/responses",
    }
)
#: The route of an async job's record: written when the job ends, not at its 202.
JOB_ROUTE = "/v1/images/jobs/{id}"
#: Client-chosen text (a requested model name) is cut to this: a record has a bounded size.
MAX_TEXT = 200


class UsageRecord(msgspec.Struct, frozen=True):
    """A row of ``usage_records`` (field names are the column names)."""

    ts: float
    #: ``YYYY-MM-DD`` in UTC, stored with the record so grouping by day needs no dialect's date functions.
    day: str
    request_id: str
    route: str
    #: The client key's name (never the key); None when the request had no valid key.
    client_key: str | None
    requested_model: str | None
    #: What served it (after aliases, routes and fallback).
    model: str | None
    provider: str | None
    images: int
    size: str | None
    pixels: int
    latency_ms: float
    status: int
    error_code: str | None
    est_cost: float | None
    currency: str | None


class UsageSink(Protocol):
    def record(self, record: UsageRecord) -> None:
        """Take the record without blocking; it may be dropped (and counted), never waited for."""


_day: tuple[int, str] = (-1, "")


def utc_day(ts: float) -> str:
    global _day
    number = int(ts // 86400)
    if number != _day[0]:  # strftime once a day (per process), not once a record
        _day = (number, time.strftime("%Y-%m-%d", time.gmtime(ts)))
    return _day[1]


def pixels_of(size: str | None, images: int) -> int:
    """``"1024x768"`` and 2 images: 1572864; 0 when the size is unknown."""
    width, _, height = (size or "").partition("x")
    if not (width.isdigit() and height.isdigit()):
        return 0
    return int(width) * int(height) * images


def _cut(text: str | None) -> str | None:
    return text[:MAX_TEXT] if text is not None else None


def from_context(
    ctx: RequestContext, status: int, latency: float, *, route: str | None = None, now: float | None = None
) -> UsageRecord:
    ts = time.time() if now is None else now
    return UsageRecord(
        ts=ts,
        day=utc_day(ts),
        request_id=ctx.request_id,
        route=route or ctx.route,
        client_key=ctx.client,
        requested_model=_cut(ctx.requested_model),
        model=ctx.model,
        provider=ctx.provider,
        images=ctx.images,
        size=_cut(ctx.size),
        pixels=pixels_of(ctx.size, ctx.images),
        latency_ms=round(latency * 1000, 2),
        status=status,
        error_code=_cut(ctx.error_code),
        est_cost=round(ctx.est_cost, 9) if ctx.est_cost is not None else None,
        currency=ctx.currency,
    )


def for_job(
    ctx: RequestContext | None,
    outcome: ImagesResponse | ApiError,
    *,
    job_id: str,
    client: str | None,
    requested: str,
    model: str | None,
    provider: str | None,
    created: float,
) -> UsageRecord:
    """An async job's one record, when it has succeeded or failed.

    ``ctx`` is the job's own context on the replica finishing it (it holds the cost), whether
    the job ran there from the start or was resumed there.
    """
    if ctx is None or ctx.request_id != job_id:
        ctx = RequestContext(job_id, "POST", JOB_ROUTE, client=client)
    ctx.requested_model, ctx.model, ctx.provider = requested, model, provider
    if isinstance(outcome, ApiError):
        ctx.error_code = outcome.code
        status = outcome.status
    else:
        ctx.images, ctx.size = len(outcome.data), outcome.size
        status = 200
    now = time.time()
    return from_context(ctx, status, max(0.0, now - created), route=JOB_ROUTE, now=now)
