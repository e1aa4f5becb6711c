"""OpenTelemetry traces: the span tree of a polled async request (the SDK's in-memory
exporter, gateway in this process, served over loopback HTTP), and one real OTLP/HTTP
export to a receiver on loopback (gateway in its own process)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import uvicorn
from litestar.exceptions import LitestarDeprecationWarning
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.app import create_app
from gateway.settings import parse_config
from tests.conftest import TEST_CONFIG, GatewayFactory, gateway_env, openai_client
from tests.servers import Server, free_port, new_key

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
PROMPT = "a lighthouse on a cliff at dusk, secret-prompt-words"
URL_SECRET = new_key("trace-url-secret-")


class InProcess:
    """The gateway app served by uvicorn on a thread of this process, so its spans can be read here."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> InProcess:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the in-process gateway did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="module")
def traced(emulators: dict[str, Server], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    exporter = InMemorySpanExporter()
    store = tmp_path_factory.mktemp("traced-images")
    # One model paced to one call at a time, for the pacing test.
    text = (TEST_CONFIG % {"deadline": 30}).replace(
        "pacing: {documented_limits: false}",
        "pacing: {documented_limits: false, models: {qwen-image-2.0: {concurrency: 1}}}",
        1,
    ) + f"storage: {{kind: local, directory: {store}, url_secret: '${{STORAGE_URL_SECRET}}'}}\n"
    env = {**gateway_env(emulators), "STORAGE_URL_SECRET": URL_SECRET, "GATEWAY_DATA_DIR": str(store / "data")}
    config = parse_config(text, env, "traced.yaml")
    with warnings.catch_warnings():
        # Litestar 2.25 flags the routes' path parameters as an older style (a subprocess
        # gateway never sees it: only pytest turns warnings into errors).
        warnings.simplefilter("ignore", LitestarDeprecationWarning)
        app = create_app(config, span_exporter=exporter)
    with InProcess(app) as server:
        yield server.url, exporter


def _finished(exporter: InMemorySpanExporter, root: str) -> list[ReadableSpan]:
    """Every span once the server span has ended (it ends just after the answer's last byte)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        spans = list(exporter.get_finished_spans())
        if any(s.name == root for s in spans):
            return spans
        time.sleep(0.01)
    raise AssertionError(f"no {root!r} span")


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def test_the_span_tree_of_a_polled_async_request(traced: tuple[str, Any]) -> None:
    url, exporter = traced
    exporter.clear()
    server = Server("in-process", None, url)  # type: ignore[arg-type]
    raw = openai_client(server).images.with_raw_response.generate(
        model="wanx2.1-t2i-turbo",
        prompt=PROMPT,
        n=2,
        size="1024x1024",
        response_format="b64_json",
        extra_headers={"traceparent": TRACEPARENT},
    )
    assert len(raw.parse().data) == 2
    spans = _finished(exporter, "POST /v1/images/generations")
    assert {s.context.trace_id for s in spans} == {int(TRACE_ID, 16)}  # the caller's trace, continued

    (root,) = [s for s in spans if s.name == "POST /v1/images/generations"]
    assert root.parent is not None and root.parent.span_id == int(PARENT_ID, 16) and root.parent.is_remote
    assert root.kind.name == "SERVER"
    assert root.attributes is not None
    assert root.attributes["gen_ai.operation.name"] == "generate_content"
    assert root.attributes["gen_ai.request.model"] == "wanx2.1-t2i-turbo"
    assert root.attributes["http.response.status_code"] == 200
    assert root.attributes["gateway.request_id"] == raw.headers["x-request-id"]
    assert root.attributes["gateway.images"] == 2

    (attempt,) = _children(spans, root)
    assert attempt.name == "generate_content wanx2.1-t2i-turbo"
    assert attempt.attributes is not None
    assert attempt.attributes["gen_ai.provider.name"] == "dashscope"
    assert attempt.attributes["gen_ai.request.model"] == "wanx2.1-t2i-turbo"
    assert attempt.attributes["gateway.provider"] == "dashscope"
    assert attempt.attributes["gateway.size_sent"] == "1024*1024"
    assert attempt.attributes["gateway.images_made"] == 2

    under = _children(spans, attempt)
    names = [s.name for s in under]
    (submit,) = [s for s in under if s.name == "upstream submit"]
    assert submit.kind.name == "CLIENT" and submit.attributes is not None
    task_id = submit.attributes["gateway.task_id"]
    assert task_id and submit.attributes["gateway.upstream_request_id"]
    assert submit.attributes["gateway.images"] == 2 and submit.attributes["gateway.size_sent"] == "1024*1024"
    polls = [s for s in under if s.name == "upstream poll"]
    assert polls, names
    assert all(p.attributes is not None and p.attributes["gateway.task_id"] == task_id for p in polls)
    assert [p.attributes["gateway.poll"] for p in polls if p.attributes] == list(range(1, len(polls) + 1))
    assert polls[-1].attributes is not None and polls[-1].attributes["gateway.task_status"] == "done"
    assert all(p.start_time >= submit.end_time for p in polls)  # type: ignore[operator]
    assert names.count("gateway.download") == 2
    assert names.count("gateway.store") == 2

    everything = json.dumps([dict(s.attributes or {}) for s in spans] + [s.name for s in spans])
    assert "secret-prompt-words" not in everything  # never the prompt
    assert "Signature=" not in everything and "OSSAccessKeyId" not in everything  # never a signed URL
    assert "Bearer" not in everything


def test_a_failed_request_is_an_error_span(traced: tuple[str, Any]) -> None:
    url, exporter = traced
    exporter.clear()
    response = httpx.post(url + "/v1/images/generations", json={"prompt": "x", "n": 0}, timeout=30)
    assert response.status_code == 400
    (root,) = [s for s in _finished(exporter, "POST /v1/images/generations") if s.name == "POST /v1/images/generations"]
    assert root.status.status_code.name == "ERROR"
    assert root.attributes is not None and root.attributes["http.response.status_code"] == 400


def test_pacing_waits_are_spans(traced: tuple[str, Any]) -> None:
    """Two requests at once for a model paced to one call at a time: the second waits its turn."""
    url, exporter = traced
    exporter.clear()

    async def both() -> list[int]:
        async with httpx.AsyncClient(timeout=60) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        url + "/v1/images/generations",
                        json={"model": "qwen-image-2.0", "prompt": f"a kite {i} [emu:latency=0.3]", "n": 1},
                    )
                    for i in range(2)
                )
            )
        return [a.status_code for a in answers]

    assert asyncio.run(both()) == [200, 200]
    deadline = time.monotonic() + 5
    while len([s for s in exporter.get_finished_spans() if s.name.startswith("POST ")]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    spans = list(exporter.get_finished_spans())
    waits = [s for s in spans if s.name == "gateway.pacing.wait"]
    assert len(waits) == 2
    by_id = {s.context.span_id: s for s in spans}
    assert all(
        w.parent is not None and by_id[w.parent.span_id].name == "generate_content qwen-image-2.0" for w in waits
    )
    seconds = sorted((w.end_time - w.start_time) / 1e9 for w in waits)  # type: ignore[operator]
    assert seconds[0] < 0.1 and seconds[1] > 0.2  # the second waited for the first's 0.3 s call


class _Collector(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.path == "/v1/traces" and self.headers["content-type"] == "application/x-protobuf":
            message = ExportTraceServiceRequest()
            message.ParseFromString(body)
            self.received.append(message)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_spans_reach_an_otlp_http_collector(gateway_factory: GatewayFactory) -> None:
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"
        gateway = gateway_factory(
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
            OTEL_SERVICE_NAME="images-under-test",
            OTEL_BSP_SCHEDULE_DELAY="100",
        )
        response = httpx.post(
            gateway.url + "/v1/images/generations",
            json={"prompt": "a bridge", "n": 1},
            headers={"traceparent": TRACEPARENT},
            timeout=30,
        )
        assert response.status_code == 200
        deadline = time.monotonic() + 15
        spans: list[Any] = []
        while time.monotonic() < deadline and not any(s.name == "POST /v1/images/generations" for s in spans):
            time.sleep(0.1)
            spans = [
                (resource, span)
                for message in list(_Collector.received)
                for resource in message.resource_spans
                for scope in resource.scope_spans
                for span in scope.spans
            ]
            spans = [span for _, span in spans]
        (root,) = [s for s in spans if s.name == "POST /v1/images/generations"]
        assert root.trace_id.hex() == TRACE_ID and root.parent_span_id.hex() == PARENT_ID
        services = {
            attribute.value.string_value
            for message in _Collector.received
            for resource in message.resource_spans
            for attribute in resource.resource.attributes
            if attribute.key == "service.name"
        }
        assert services == {"images-under-test"}
        assert {"upstream sync", "generate_content wan2.7-image"} <= {s.name for s in spans}
        log_line = next(line for line in gateway.output().splitlines() if response.headers["x-request-id"] in line)
        assert f'"trace_id": "{TRACE_ID}"' in log_line or f'"trace_id":"{TRACE_ID}"' in log_line
    finally:
        collector.shutdown()
