"""The upstream engine against an in-memory transport: retries, submit safety, polling."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import msgspec
import pytest

from gateway.engine.executor import Engine, Target
from gateway.engine.retry import MAX_RETRY_AFTER, Backoff
from gateway.engine.transport import Upstream
from gateway.settings import PacingSettings, UpstreamSettings
from providers.base import ImageBatch, ImageSpec, ModelInfo, UpstreamCall
from providers.dashscope.adapter import DashScopeAdapter
from providers.errors import RateLimited, UpstreamError
from providers.secret import Secret

pytestmark = pytest.mark.anyio
BASE = "https://dashscope.aliyuncs.com"
FAST = UpstreamSettings(backoff_initial=0.01, backoff_max=0.02, poll_initial=0.01, poll_max=0.02, max_attempts=3)
SYNC_OK = {"output": {"choices": [{"message": {"content": [{"image": "https://r/1.png"}]}}]}, "request_id": "r"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def engine_with(handler: Callable[[httpx.Request], httpx.Response], settings: UpstreamSettings = FAST) -> Engine:
    upstream = Upstream(max_connections=10, connect_timeout=1, read_timeout=5, transport=httpx.MockTransport(handler))
    return Engine(upstream, settings)


def json_response(payload: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=msgspec.json.encode(payload))


TARGET = Target(
    "dashscope",
    DashScopeAdapter(region="cn", base_url=BASE),
    Secret("sk-test-key"),
    pacing=PacingSettings(documented_limits=False),
)


def model_info(model: str) -> ModelInfo:
    found = TARGET.adapter.resolve(model)
    assert found is not None
    return found


def calls(model: str, n: int = 1) -> list[UpstreamCall]:
    return TARGET.adapter.generation_calls(model, ImageSpec(prompt="p", n=n))


async def run(handler: Callable[[httpx.Request], httpx.Response], model: str) -> list[ImageBatch]:
    return await engine_with(handler).run_calls(TARGET, calls(model), time.monotonic() + 10, model_info(model))


async def test_sync_retries_5xx_then_succeeds() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        if len(seen) < 3:
            return json_response({"code": "InternalError", "message": "m"}, 500)
        return json_response(SYNC_OK)

    batches = await run(handler, "qwen-image-max")
    assert [i.url for i in batches[0].images] == ["https://r/1.png"]
    assert seen == ["Bearer sk-test-key"] * 3


async def test_throttling_exhausted_is_rate_limited() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response({"code": "Throttling.RateQuota", "message": "m"}, 429)

    with pytest.raises(RateLimited):
        await run(handler, "qwen-image-max")


async def test_ambiguous_submit_failure_is_not_resent() -> None:
    count = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        raise httpx.ReadTimeout("read timed out", request=request)

    with pytest.raises(UpstreamError):
        await run(handler, "wanx2.1-t2i-turbo")
    assert count == 1  # a task may exist upstream: sending again could bill twice


async def test_submit_that_never_connected_is_resent() -> None:
    count = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(UpstreamError):
        await run(handler, "wanx2.1-t2i-turbo")
    assert count == 3


async def test_polling_survives_transient_errors_and_resubmits_failed_tasks() -> None:
    log: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        log.append(request.method)
        if request.method == "POST":
            assert request.headers["x-dashscope-async"] == "enable"
            return json_response({"output": {"task_id": f"t{log.count('POST')}", "task_status": "PENDING"}})
        task = request.url.path.rsplit("/", 1)[1]
        assert request.url.host == "dashscope.aliyuncs.com"
        polls = log.count("GET")
        if polls == 1:
            return json_response({"code": "InternalError"}, 500)
        if task == "t1":
            return json_response({"output": {"task_status": "FAILED", "code": "InternalError", "message": "m"}})
        if polls < 5:
            return json_response({"output": {"task_status": "RUNNING"}})
        return json_response({"output": {"task_status": "SUCCEEDED", "results": [{"url": "https://r/ok.png"}]}})

    batches = await run(handler, "wanx2.1-t2i-turbo")
    assert batches[0].images[0].url == "https://r/ok.png"
    assert log.count("POST") == 2


async def test_lost_task_is_not_resubmitted() -> None:
    posts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.method == "POST":
            posts += 1
            return json_response({"output": {"task_id": "t", "task_status": "PENDING"}})
        return json_response({"code": "InternalError"}, 503)

    with pytest.raises(UpstreamError) as info:
        await run(handler, "wanx2.1-t2i-turbo")
    assert "lost track" in info.value.message
    assert posts == 1


async def test_fan_out_keeps_order() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = msgspec.json.decode(request.content)
        seed = body["parameters"].get("seed", 0)
        return json_response({"output": {"choices": [{"message": {"content": [{"image": f"u{seed}"}]}}]}})

    target_calls = TARGET.adapter.generation_calls("qwen-image-max", ImageSpec(prompt="p", n=3, extras={"seed": 5}))
    engine = engine_with(handler)
    batches = await engine.run_calls(TARGET, target_calls, time.monotonic() + 10, model_info("qwen-image-max"))
    assert [b.images[0].url for b in batches] == ["u5", "u6", "u7"]


def test_backoff() -> None:
    backoff = Backoff(initial=0.5, maximum=8.0)
    for attempt in range(1, 10):
        delay = backoff.delay(attempt)
        nominal = min(0.5 * 2 ** (attempt - 1), 8.0)
        assert nominal / 2 <= delay <= nominal
    assert backoff.delay(1, retry_after=3) == 3
    assert backoff.delay(1, retry_after=10_000) == MAX_RETRY_AFTER
    intervals = [backoff.poll_interval(None)]
    for _ in range(10):
        intervals.append(Backoff(0.5, 5.0, 1.5).poll_interval(intervals[-1]))
    assert intervals[0] <= 1.0 and max(intervals) <= 5.0


async def test_unreadable_polls_do_not_resubmit_the_task() -> None:
    posts = gets = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts, gets
        if request.method == "POST":
            posts += 1
            return json_response({"output": {"task_id": "t", "task_status": "PENDING"}})
        gets += 1
        if gets == 1:
            return json_response({"code": "Throttling", "message": "busy"})  # an error inside HTTP 200
        if gets == 2:
            return httpx.Response(200, content=b"<html>gateway timeout</html>")
        return json_response({"output": {"task_status": "SUCCEEDED", "results": [{"url": "https://r/ok.png"}]}})

    batches = await run(handler, "wanx2.1-t2i-turbo")
    assert batches[0].images[0].url == "https://r/ok.png"
    assert posts == 1


async def test_fan_out_returns_what_was_made_when_some_calls_fail() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        seed = msgspec.json.decode(request.content)["parameters"]["seed"]
        if seed == 6:
            return json_response({"code": "DataInspectionFailed", "message": "m"}, 400)
        return json_response({"output": {"choices": [{"message": {"content": [{"image": f"u{seed}"}]}}]}})

    target_calls = TARGET.adapter.generation_calls("qwen-image-max", ImageSpec(prompt="p", n=3, extras={"seed": 5}))
    engine = engine_with(handler)
    batches = await engine.run_calls(TARGET, target_calls, time.monotonic() + 10, model_info("qwen-image-max"))
    assert [b.images[0].url for b in batches] == ["u5", "u7"]


async def test_sync_call_is_not_resent_after_an_ambiguous_failure() -> None:
    count = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        raise httpx.ReadTimeout("read timed out", request=request)

    with pytest.raises(UpstreamError) as info:
        await run(handler, "qwen-image-max")
    assert count == 1 and "not sent again" in info.value.message
