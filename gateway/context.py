"""What the gateway learns about a request while serving it: for the log line and metrics."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.clients import ClientKey

__all__ = ["RequestContext", "current_request"]


@dataclass(slots=True)
class RequestContext:
    request_id: str
    method: str
    route: str
    started: float = field(default_factory=time.monotonic)
    model: str | None = None
    provider: str | None = None
    client: str | None = None
    client_key: ClientKey | None = None
    images: int = 0
    #: Time spent waiting on upstreams, queues and downloads: not the gateway's own overhead.
    waiting_seconds: float = 0.0
    cache: str | None = None
    fallbacks: int = 0
    error_code: str | None = None
    prompt: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("gateway_request", default=None)


def current_request() -> RequestContext | None:
    return _current.get()


def set_current_request(ctx: RequestContext | None) -> None:
    _current.set(ctx)
