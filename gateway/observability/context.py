"""What the gateway learns about a request while serving it: for the log line and metrics."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.http.auth import ClientKey

__all__ = ["RequestContext", "TaskListener", "current_request", "task_listener"]


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
    #: The client's limits were applied to this request (count it once).
    admitted: bool = False
    images: int = 0
    #: Time spent waiting on upstreams, queues and downloads: not the gateway's own overhead.
    waiting_seconds: float = 0.0
    cache: str | None = None
    fallbacks: int = 0
    error_code: str | None = None
    prompt: str | None = None
    #: For the usage ledger: the model name the client asked for, before aliases and routes.
    requested_model: str | None = None
    #: The answer's size ("1024x1024"), as returned.
    size: str | None = None
    #: Estimated upstream cost of what this request made (None: nothing priced was made).
    est_cost: float | None = None
    currency: str | None = None
    #: Its usage record is written elsewhere: an async job writes one when it finishes.
    usage_deferred: bool = False
    #: The request's trace (tracing on), for the log line.
    trace_id: str | None = None
    #: The ASGI scope, read only when an answer needs the origin the client used.
    scope: Any = None

    def origin(self) -> str | None:
        """``scheme://host`` as the client addressed the gateway (for URLs back to it)."""
        if self.scope is None:
            return None
        host = next((v for k, v in self.scope.get("headers", ()) if k == b"host"), None)
        if host is None:
            server = self.scope.get("server")
            if not server:
                return None
            host = f"{server[0]}:{server[1]}".encode()
        return f"{self.scope.get('scheme', 'http')}://{host.decode('latin-1')}"

    def add_cost(self, amount: float, currency: str) -> None:
        # One request is served by one model in one region, so one currency; a second
        # currency cannot be added to the first and would misstate both.
        if self.currency is None or self.currency == currency:
            self.est_cost = (self.est_cost or 0.0) + amount
            self.currency = currency


_current: ContextVar[RequestContext | None] = ContextVar("gateway_request", default=None)


def current_request() -> RequestContext | None:
    return _current.get()


def set_current_request(ctx: RequestContext | None) -> None:
    _current.set(ctx)


#: Told about every upstream task created while serving (call index, provider,
#: model id, images asked, task id): async jobs record them so another replica can
#: resume polling if this one goes away.
TaskListener = Callable[[int, str, str, int, str], Awaitable[None]]
task_listener: ContextVar[TaskListener | None] = ContextVar("gateway_task_listener", default=None)
