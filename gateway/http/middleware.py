"""ASGI wrapper around the whole app: request ids, drain, in-flight count, the
per-request log line and request metrics. It sits outside Litestar so 404s and
drain rejections get the same treatment."""

from __future__ import annotations

import os
import time
from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability import tracing
from gateway.observability.context import RequestContext, set_current_request
from gateway.observability.logs import access_line
from gateway.runtime import Runtime
from gateway.usage.record import USAGE_ROUTES, from_context
from gateway.wire.errors import ErrorBody, ErrorEnvelope

__all__ = ["GatewayMiddleware", "route_label"]


_EXACT_ROUTES = {
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/images/variations",
    "/v1/models",
    "/healthz",
    "/readyz",
    "/metrics",
    "/admin/keys",
    "/admin/usage",
    "/console",
    "/console/login",
    "/console/logout",
    "/console/jobs",
    "/console/status",
}
_PREFIX_ROUTES = (
    ("/v1/models/", "/v1/models/{id}"),
    ("/v1/images/jobs/", "/v1/images/jobs/{id}"),
    ("/v1/images/files/", "/v1/images/files/{name}"),
    ("/console/static/", "/console/static/{name}"),
)
#: Probes and scrapes: counted nowhere and not logged, or they would drown the rest.
_QUIET = {"/healthz", "/readyz", "/metrics"}
_DRAIN_BODY = msgspec.json.encode(
    ErrorEnvelope(
        ErrorBody("The gateway is shutting down; retry on another instance", "api_error", None, "service_unavailable")
    )
)


def _job_read(method: str, path: str) -> bool:
    """Reading or cancelling a job, and reading a stored file, stay open during a drain:
    the result may exist only here."""
    if method == "GET" and path.startswith("/v1/images/files/"):
        return True
    return method in ("GET", "DELETE") and path.startswith("/v1/images/jobs/")


def route_label(path: str) -> str:
    """A bounded label for a path: its route template, or "other"."""
    if path in _EXACT_ROUTES:
        return path
    for prefix, template in _PREFIX_ROUTES:
        if path.startswith(prefix):
            return template
    return "other"


def _describe(span: tracing.Span, ctx: RequestContext, status: int) -> None:
    """What the request became, on its server span (names and counts: no prompt, no key)."""
    span.set("http.response.status_code", status)
    span.set("gateway.request_id", ctx.request_id)
    span.set("gen_ai.request.model", ctx.requested_model)
    span.set("gen_ai.response.model", ctx.model)
    span.set("gateway.provider", ctx.provider)
    span.set("gateway.client", ctx.client)
    span.set("gateway.images", ctx.images)
    span.set("gateway.cache", ctx.cache)
    if ctx.fallbacks:
        span.set("gateway.fallbacks", ctx.fallbacks)
    if status >= 400:
        span.error(ctx.error_code, f"HTTP {status}")


class GatewayMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        route = route_label(path)
        ctx = RequestContext(f"req_{os.urandom(16).hex()}", str(scope.get("method", "GET")), route, scope=scope)
        request_id_header = (b"x-request-id", ctx.request_id.encode())
        status = 500
        sent = 0

        async def send_wrapped(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        if route in _QUIET:
            await self.app(scope, receive, send_wrapped)
            return
        if self.runtime.draining and path.startswith("/v1/") and not _job_read(ctx.method, path):
            await self._reject_draining(send_wrapped)
            status = 503
        else:
            set_current_request(ctx)
            self.runtime.in_flight += 1
            gauge = self.runtime.metrics.of(self.runtime.metrics.in_flight, route)
            gauge.inc()
            with tracing.server_span(ctx.method, route, scope.get("headers", ())) as span:
                try:
                    await self.app(scope, receive, send_wrapped)
                finally:
                    self.runtime.in_flight -= 1
                    gauge.dec()
                    set_current_request(None)
                    if span.recording:
                        _describe(span, ctx, status)
                        ctx.trace_id = tracing.trace_id()
        self._record(ctx, status, sent)

    async def _reject_draining(self, send: Send) -> None:
        start: Any = {
            "type": "http.response.start",
            "status": 503,
            "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1"), (b"connection", b"close")],
        }
        await send(start)
        body: Any = {"type": "http.response.body", "body": _DRAIN_BODY}
        await send(body)

    def _record(self, ctx: RequestContext, status: int, sent: int) -> None:
        elapsed = time.monotonic() - ctx.started
        metrics = self.runtime.metrics
        metrics.of(metrics.requests, ctx.route, ctx.model or "-", ctx.provider or "-", str(status)).inc()
        metrics.of(metrics.request_seconds, ctx.route).observe(elapsed)
        metrics.of(metrics.overhead_seconds, ctx.route).observe(max(0.0, elapsed - ctx.waiting_seconds))
        fields: dict[str, Any] = {
            "request_id": ctx.request_id,
            "method": ctx.method,
            "route": ctx.route,
            "status": status,
            "latency_ms": round(elapsed * 1000, 2),
            "model": ctx.model,
            "provider": ctx.provider,
            "client": ctx.client,
            "images": ctx.images,
            "bytes": sent,
        }
        if ctx.cache:
            fields["cache"] = ctx.cache
        if ctx.fallbacks:
            fields["fallbacks"] = ctx.fallbacks
        if ctx.error_code:
            fields["error"] = ctx.error_code
        if ctx.trace_id:
            fields["trace_id"] = ctx.trace_id
        if ctx.prompt is not None and self.runtime.config.log_prompts:
            fields["prompt"] = ctx.prompt
        access_line(fields)
        ledger = self.runtime.ledger
        if ledger is not None and ctx.route in USAGE_ROUTES and not ctx.usage_deferred:
            ledger.record(from_context(ctx, status, elapsed))
