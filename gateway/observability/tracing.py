"""OpenTelemetry traces: a server span per request and a child span for each route attempt,
pacing wait, upstream submit, poll, download and store.

Off by default, and then nothing of OpenTelemetry is imported: every ``span()`` returns
one shared do-nothing context manager, so the hot path pays a function call. On
(``tracing.enabled``, or the standard ``OTEL_*`` variables, see :func:`enabled_by`), spans
go to an OTLP/HTTP collector through the SDK's batch processor: exporting never waits on
a request, and the SDK bounds its queue (2048 spans) and drops past it.

Attributes follow the GenAI semantic conventions (``gen_ai.operation.name``,
``gen_ai.request.model``, ``gen_ai.provider.name``) plus the gateway's own ``gateway.*``.
They never carry prompts, keys or signed URLs: hosts only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gateway.settings import TracingSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "Attributes",
    "Span",
    "configure",
    "enabled_by",
    "record_span",
    "server_span",
    "shutdown",
    "span",
    "trace_id",
]

log = logging.getLogger(__name__)

AttributeValue = str | bool | int | float
#: What every image request is, in the GenAI conventions' well-known operation names: a
#: multimodal generation ("chat" for chat completions, set by the route's label).
OPERATIONS = {"/v1/chat/completions": "chat", "/v1/responses": "generate_content"}
DEFAULT_OPERATION = "generate_content"


class Span:
    """What the gateway does with a span; this one, used while tracing is off, does nothing."""

    recording = False

    def set(self, key: str, value: AttributeValue | None) -> None:
        """Set an attribute (None: leave it unset)."""

    def error(self, code: str | None, message: str) -> None:
        """Mark the span failed with the gateway's error code."""


_OFF = Span()


class _Live(Span):
    recording = True
    __slots__ = ("_span",)

    def __init__(self, otel_span: Any) -> None:
        self._span = otel_span

    def set(self, key: str, value: AttributeValue | None) -> None:
        if value is not None:
            self._span.set_attribute(key, value)

    def error(self, code: str | None, message: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        if code:
            self._span.set_attribute("error.type", code)
        self._span.set_status(Status(StatusCode.ERROR, message[:200]))


class _Tracing:
    """The process's tracer: None while tracing is off."""

    def __init__(self) -> None:
        self.tracer: Any = None
        self.provider: TracerProvider | None = None


_state = _Tracing()


_NULL_CM = contextlib.nullcontext(_OFF)


def enabled_by(settings: TracingSettings, env: Mapping[str, str]) -> bool:
    """On when the config says so, or an OTLP exporter or endpoint is named in the
    environment; ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` turn it off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()}
    if exporters == {"none"}:
        return False
    named = "otlp" in exporters or any(
        env.get(name) for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    return settings.enabled or named


def configure(
    settings: TracingSettings,
    env: Mapping[str, str] | None = None,
    *,
    exporter: SpanExporter | None = None,
    version: str = "",
) -> bool:
    """Start tracing when it is on (``exporter`` replaces OTLP, for tests); returns whether it is."""
    shutdown()
    env = os.environ if env is None else env
    if exporter is None and not enabled_by(settings, env):
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    attributes: dict[str, str] = {"service.version": version} if version else {}
    if settings.service_name or not env.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = settings.service_name or "image-gateway"
    # OTEL_TRACES_SAMPLER, when set, is the SDK's to read; otherwise the config's ratio,
    # keeping whatever a caller's traceparent decided.
    sampler = None if env.get("OTEL_TRACES_SAMPLER") else ParentBased(TraceIdRatioBased(settings.sample_ratio))
    provider = TracerProvider(resource=Resource.create(attributes), sampler=sampler)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Unset: the SDK's own OTEL_EXPORTER_OTLP_* variables (endpoint, headers, timeout).
        otlp = OTLPSpanExporter(endpoint=settings.endpoint) if settings.endpoint else OTLPSpanExporter()
        provider.add_span_processor(BatchSpanProcessor(otlp))
    _state.provider = provider
    _state.tracer = provider.get_tracer("image-gateway", version or None)
    log.info("tracing on: spans exported over OTLP/HTTP" if exporter is None else "tracing on (custom exporter)")
    return True


def shutdown() -> None:
    """Flush what is buffered (bounded by the SDK's export timeout) and stop tracing."""
    provider, _state.provider, _state.tracer = _state.provider, None, None
    if provider is not None:
        provider.shutdown()


Attributes = Mapping[str, AttributeValue | None]


def span(
    name: str, attributes: Callable[[], Attributes] | None = None, *, client: bool = False
) -> contextlib.AbstractContextManager[Span]:
    """A child of the current span (as a context manager); does nothing while tracing is off.

    ``attributes`` is called only when tracing is on: off, building them would cost more than the span."""
    tracer = _state.tracer
    if tracer is None:
        return _NULL_CM
    return _started(tracer, name, attributes() if attributes else None, client)


@contextlib.contextmanager
def _started(tracer: Any, name: str, attributes: Attributes | None, client: bool) -> Iterator[Span]:
    from opentelemetry.trace import SpanKind

    kind = SpanKind.CLIENT if client else SpanKind.INTERNAL
    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    with tracer.start_as_current_span(name, kind=kind, attributes=clean, record_exception=False) as otel:
        live = _Live(otel)
        try:
            yield live
        except BaseException as exc:
            code = getattr(exc, "code", None)
            live.error(code if isinstance(code, str) else type(exc).__name__, str(exc) or type(exc).__name__)
            raise


def record_span(name: str, seconds: float, attributes: Attributes | None = None) -> None:
    """A finished child span of ``seconds`` ending now: for waits only known once they are over."""
    tracer = _state.tracer
    if tracer is None:
        return
    end = time.time_ns()
    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    otel = tracer.start_span(name, start_time=end - int(seconds * 1e9), attributes=clean)
    otel.end(end_time=end)


def server_span(
    method: str, route: str, headers: Iterable[tuple[bytes, bytes]]
) -> contextlib.AbstractContextManager[Span]:
    """The request's own span, continuing the caller's trace (W3C ``traceparent``)."""
    tracer = _state.tracer
    if tracer is None:
        return _NULL_CM
    return _served(tracer, method, route, headers)


@contextlib.contextmanager
def _served(tracer: Any, method: str, route: str, headers: Iterable[tuple[bytes, bytes]]) -> Iterator[Span]:
    from opentelemetry.propagate import extract
    from opentelemetry.trace import SpanKind

    carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers if k in (b"traceparent", b"tracestate")}
    attributes = {"http.request.method": method, "http.route": route}
    if route in OPERATIONS or route.startswith("/v1/images/"):
        attributes["gen_ai.operation.name"] = OPERATIONS.get(route, DEFAULT_OPERATION)
    with tracer.start_as_current_span(
        f"{method} {route}", context=extract(carrier), kind=SpanKind.SERVER, attributes=attributes
    ) as otel:
        yield _Live(otel)


def trace_id() -> str | None:
    """The current trace's id (hex), for the log line; None while tracing is off."""
    if _state.tracer is None:
        return None
    from opentelemetry.trace import get_current_span

    context = get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None
