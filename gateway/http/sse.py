"""Server-sent events: framing, keep-alive comments while work runs, errors after the stream began."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

import msgspec

from gateway.observability.context import current_request
from gateway.wire.errors import ErrorBody, ErrorEnvelope
from providers.errors import ApiError

__all__ = [
    "DONE",
    "HEADERS",
    "KEEPALIVE",
    "KEEPALIVE_SECONDS",
    "error_event",
    "event",
    "keepalive_until",
    "typed_error_event",
    "work_events",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Idle proxies (nginx 60 s, Cloudflare 100 s, many load balancers 30-60 s) cut quiet
#: connections; an image can take minutes, so say something well within their limits.
KEEPALIVE_SECONDS = 10.0
KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
#: No caching, and no buffering by nginx (which would hold the keep-alives back).
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def event(payload: Any, name: str | None = None) -> bytes:
    """One event; ``name`` is its ``event:`` line (OpenAI's image and Responses streams send one)."""
    data = b"data: " + msgspec.json.encode(payload) + b"\n\n"
    return b"event: " + name.encode() + b"\n" + data if name else data


def error_event(err: ApiError) -> bytes:
    """An error once the stream has begun: the openai SDK raises APIError on a ``data`` with ``error``."""
    return event(ErrorEnvelope(ErrorBody(err.message, err.type, err.param, err.code)))


def typed_error_event(err: ApiError) -> bytes:
    """An error in the image and Responses streams' style: ``{"type": "error", "error": {...}}``."""
    body = ErrorBody(err.message, err.type, err.param, err.code)
    return event(TypedError("error", body), "error")


class TypedError(msgspec.Struct):
    type: str
    error: ErrorBody


def _retrieve(task: asyncio.Future[Any]) -> None:
    # A task dropped by a departed client must not log "exception was never retrieved".
    if not task.cancelled():
        task.exception()


async def work_events(
    work: Callable[[], Awaitable[T]],
    opening: Iterable[bytes],
    closing: Callable[[T], Iterable[bytes]],
    *,
    on_error: Callable[[ApiError], bytes] = error_event,
    keepalive: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[bytes]:
    """The body of a stream whose answer takes a while: ``opening`` at once, a keep-alive
    comment every ``keepalive`` seconds while ``work`` runs, then ``closing(result)``.

    An error after the stream began is one error event, and the stream ends. A client
    that leaves cancels the stream, and with it the work (polling upstream stops).
    """
    task = asyncio.ensure_future(work())
    task.add_done_callback(_retrieve)
    try:
        for chunk in opening:
            yield chunk
        async for beat in keepalive_until(task, keepalive):
            yield beat
        result = task.result()
    except ApiError as err:
        ctx = current_request()
        if ctx is not None:
            ctx.error_code = err.code
        yield on_error(err)
        return
    except Exception:
        log.exception("a streamed answer failed")
        yield on_error(ApiError("The gateway hit an internal error", code="internal_error"))
        return
    finally:
        if not task.done():
            task.cancel()
    for chunk in closing(result):
        yield chunk


async def keepalive_until(task: asyncio.Future[Any], interval: float = KEEPALIVE_SECONDS) -> AsyncIterator[bytes]:
    """An SSE comment every ``interval`` seconds until ``task`` is done (its result is not read here)."""
    while True:
        done, _ = await asyncio.wait({task}, timeout=interval)
        if done:
            return
        yield KEEPALIVE
