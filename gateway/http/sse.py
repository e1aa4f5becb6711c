"""Server-sent events for streamed chat: framing, keep-alive comments, errors after the stream began."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from gateway.wire.errors import ErrorBody, ErrorEnvelope
from providers.errors import ApiError

__all__ = ["DONE", "HEADERS", "KEEPALIVE", "KEEPALIVE_SECONDS", "error_event", "event", "keepalive_until"]

#: Idle proxies (nginx 60 s, Cloudflare 100 s, many load balancers 30-60 s) cut quiet
#: connections; an image can take minutes, so say something well within their limits.
KEEPALIVE_SECONDS = 10.0
KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
#: No caching, and no buffering by nginx (which would hold the keep-alives back).
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def event(payload: Any) -> bytes:
    return b"data: " + msgspec.json.encode(payload) + b"\n\n"


def error_event(err: ApiError) -> bytes:
    """An error once the stream has begun: the openai SDK raises APIError on a ``data`` with ``error``."""
    return event(ErrorEnvelope(ErrorBody(err.message, err.type, err.param, err.code)))


async def keepalive_until(task: asyncio.Future[Any], interval: float = KEEPALIVE_SECONDS) -> AsyncIterator[bytes]:
    """An SSE comment every ``interval`` seconds until ``task`` is done (its result is not read here)."""
    while True:
        done, _ = await asyncio.wait({task}, timeout=interval)
        if done:
            return
        yield KEEPALIVE
