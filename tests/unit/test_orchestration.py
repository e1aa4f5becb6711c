"""The orchestration in one process: plan, fallback, breaker, partial fan-out, single-flight, job resume.

No processes and no sockets: a fake adapter of a made-up provider, an httpx
``MockTransport`` as every upstream, and ``LocalState``. What the end-to-end
suites show over HTTP, these show step by step, in milliseconds.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import msgspec
import pytest

from gateway.engine.executor import Engine, Target
from gateway.engine.transport import Upstream
from gateway.http.auth import KeyRing
from gateway.service.ask import ImageAsk
from gateway.service.images import ImageService
from gateway.service.jobs import JobService
from gateway.service.output import Output
from gateway.service.plan import plan_images
from gateway.service.routing import Router
from gateway.settings import (
    BreakerSettings,
    CacheSettings,
    GatewayConfig,
    JobSettings,
    LocalStorageSettings,
    PacingSettings,
    RouteSettings,
    RouteTarget,
    UpstreamSettings,
)
from gateway.state import LocalState
from gateway.storage.keeper import ResultKeeper
from gateway.storage.local import LocalStore
from providers.base import (
    GeneratedImage,
    HttpRequest,
    HttpResponse,
    ImageBatch,
    ImageSpec,
    ModelInfo,
    TaskRef,
    UpstreamCall,
)
from providers.errors import ApiError, ServiceUnavailable, UpstreamError
from providers.kind import NoExtras, ProviderSettings
from providers.secret import Secret

pytestmark = pytest.mark.anyio
FAST = UpstreamSettings(
    backoff_initial=0.001, backoff_max=0.002, poll_initial=0.005, poll_max=0.01, max_attempts=3, deadline_seconds=10
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeSettings(ProviderSettings, frozen=True, tag_field="kind", tag="fake"):
    pass


class FakeAdapter:
    """``pic``: sync, 2 images per call; ``slow``: an async task. 503 is a refusal, 500 a failure."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.built: Counter[str] = Counter()

    def resolve(self, model: str) -> ModelInfo | None:
        if model == "pic":
            return ModelInfo("pic", "pic", 2, ("sync",), "any")
        if model == "slow":
            return ModelInfo("slow", "slow", 1, ("async",), "any")
        return None

    def models(self) -> list[ModelInfo]:
        return [info for name in ("pic", "slow") if (info := self.resolve(name))]

    def generation_calls(self, model: str, spec: ImageSpec) -> list[UpstreamCall]:
        self.built[model] += 1
        info = self.resolve(model)
        assert info is not None
        calls, left = [], spec.n
        while left:
            n = min(left, info.max_n)
            body = msgspec.json.encode({"model": model, "prompt": spec.prompt, "n": n, "part": len(calls)})
            request = HttpRequest("POST", f"{self.base_url}/make", body=body)
            calls.append(UpstreamCall(request, n, creates_task=model == "slow"))
            left -= n
        return calls

    def parse_result(self, call: UpstreamCall, response: HttpResponse) -> ImageBatch | TaskRef:
        if response.status == 503:
            raise ServiceUnavailable("busy", retryable=True, evidence="refused")
        if response.status != 200:
            raise UpstreamError(f"failed with {response.status}", retryable=True, evidence="failed")
        try:
            answer = msgspec.json.decode(response.body)
        except msgspec.DecodeError:
            raise UpstreamError("unreadable answer", retryable=False, evidence="unknown") from None
        if "task" in answer:
            return TaskRef(answer["task"])
        return ImageBatch(tuple(GeneratedImage(url) for url in answer["images"]))

    def poll_request(self, task: TaskRef) -> HttpRequest:
        return HttpRequest("GET", f"{self.base_url}/tasks/{task.task_id}")

    def parse_poll(self, call: UpstreamCall, task: TaskRef, response: HttpResponse) -> ImageBatch | None:
        answer = msgspec.json.decode(response.body)
        return ImageBatch(tuple(GeneratedImage(url) for url in answer["images"])) if answer["done"] else None

    def download_allowed(self, url: str) -> bool:
        return False


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class World:
    """Two providers, ``a`` and ``b``, behind one mock transport, and a route ``pic-ab`` over them."""

    def __init__(self, handler: Handler, *, threshold: int = 5, grace: float = 0.0) -> None:
        self.sent: list[tuple[str, str]] = []

        async def record(request: httpx.Request) -> httpx.Response:
            self.sent.append((request.url.host, request.method))
            return await handler(request)

        self.adapters = {name: FakeAdapter(f"http://{name}.test") for name in ("a", "b")}
        targets = {
            name: Target(name, adapter, None, pacing=PacingSettings(documented_limits=False), extras=NoExtras)
            for name, adapter in self.adapters.items()
        }
        routes = {"pic-ab": RouteSettings((RouteTarget("a", "pic"), RouteTarget("b", "pic")))}
        self.config = GatewayConfig(
            providers={name: FakeSettings(base_url=f"http://{name}.test") for name in targets},
            default_provider="a",
            default_model="pic",
            aliases={},
            routes=routes,
            upstream=FAST,
            circuit_breaker=BreakerSettings(failure_threshold=threshold, cooldown_seconds=60),
            cache=CacheSettings(flight_grace_seconds=grace),
        )
        transport = httpx.MockTransport(record)
        self.upstream = Upstream(max_connections=10, connect_timeout=1, read_timeout=5, transport=transport)
        self.state = LocalState()
        router = Router(targets, default_provider="a", default_model="pic", routes=routes)
        engine = Engine(self.upstream, FAST, state=self.state)
        keyring = KeyRing(self.config, self.state)
        self.service = ImageService(self.config, router, engine, self.upstream.client, keyring, self.state, "r1")

    def posts(self, host: str) -> int:
        return sum(1 for h, method in self.sent if h == host and method == "POST")

    async def generate(self, model: str = "pic-ab", n: int = 1, prompt: str = "p") -> Any:
        plan = await plan_images(self.service, ImageAsk(model, prompt, n))
        return await self.service.run(plan)


def images(*urls: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=msgspec.json.encode({"images": list(urls)}))


def by_host(answers: Mapping[str, Callable[[httpx.Request], httpx.Response]]) -> Handler:
    async def handler(request: httpx.Request) -> httpx.Response:
        return answers[request.url.host](request)

    return handler


async def test_a_refusing_target_is_retried_then_the_next_one_serves_each_planned_once() -> None:
    world = World(by_host({"a.test": lambda r: httpx.Response(503), "b.test": lambda r: images("http://b/1.png")}))
    served = await world.generate()
    assert served.route.target.name == "b"
    assert [d.url for d in served.response.data] == ["http://b/1.png"]
    assert (world.posts("a.test"), world.posts("b.test")) == (3, 1)  # refusals are retried, then fallback
    # Each target's calls were built once: by the plan (a), and when fallback reached it (b).
    assert world.adapters["a"].built["pic"] == 1 and world.adapters["b"].built["pic"] == 1


async def test_an_answer_that_may_have_made_images_goes_nowhere_else() -> None:
    world = World(by_host({"a.test": lambda r: httpx.Response(200, content=b"<html>"), "b.test": lambda r: images()}))
    with pytest.raises(ApiError) as failed:
        await world.generate()
    assert failed.value.evidence == "unknown" and "not sent again" in failed.value.message
    assert (world.posts("a.test"), world.posts("b.test")) == (1, 0)


@pytest.mark.parametrize("response_format", ["b64_json", "url"])
async def test_images_made_then_lost_in_download_go_nowhere_else(response_format: str, tmp_path: Any) -> None:
    """The upstream made (and billed) the images; fetching them broke off. Another target would bill again."""

    def a(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            raise httpx.ReadError("connection reset mid-download", request=request)
        return images("http://a.test/1.png")

    world = World(by_host({"a.test": a, "b.test": lambda r: images("http://b.test/1.png")}))
    for adapter in world.adapters.values():
        adapter.download_allowed = lambda url: True  # type: ignore[method-assign]
    if response_format == "url":  # storage on: url answers are downloaded into the store
        store = LocalStore(LocalStorageSettings(directory=str(tmp_path), url_secret=Secret("s" * 32)))
        world.service.keeper = ResultKeeper(store, world.upstream.client, world.config.downloads, world.service.metrics)
    plan = await plan_images(world.service, ImageAsk("pic-ab", "p", 1, output=Output(response_format=response_format)))
    with pytest.raises(ApiError) as failed:
        await world.service.run(plan)
    assert not failed.value.retryable and "made" in failed.value.message
    assert (world.posts("a.test"), world.posts("b.test")) == (1, 0)


async def test_the_breaker_opens_and_requests_skip_the_failing_target() -> None:
    world = World(
        by_host({"a.test": lambda r: httpx.Response(503), "b.test": lambda r: images("http://b/1.png")}), threshold=2
    )
    for _ in range(2):
        assert (await world.generate()).route.target.name == "b"
    assert world.posts("a.test") == 6
    for _ in range(3):  # open: a is not asked at all
        assert (await world.generate()).route.target.name == "b"
    assert world.posts("a.test") == 6 and world.posts("b.test") == 5


async def test_a_fanned_out_request_returns_the_images_that_were_made() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        part = msgspec.json.decode(request.content)["part"]
        return httpx.Response(500) if part == 1 else images(f"http://a/{part}-1.png", f"http://a/{part}-2.png")

    world = World(by_host({"a.test": answer, "b.test": lambda r: images()}))
    served = await world.generate("pic", n=5)  # 2 + 2 + 1 images, the middle call fails
    assert [d.url for d in served.response.data] == [
        "http://a/0-1.png",
        "http://a/0-2.png",
        "http://a/2-1.png",
        "http://a/2-2.png",
    ]
    assert world.posts("a.test") == 3 and world.posts("b.test") == 0  # a failure is not sent again


async def test_identical_requests_in_flight_share_one_upstream_call() -> None:
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return images("http://a/1.png")

    world = World(slow)
    waiting = [asyncio.ensure_future(world.generate("pic")) for _ in range(5)]
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.gather(*waiting)
    assert world.posts("a.test") == 1
    assert {r.response.data[0].url for r in results} == {"http://a/1.png"}
    different = await world.generate("pic", prompt="another")
    assert different.response.data and world.posts("a.test") == 2


async def test_a_job_whose_replica_went_away_is_resumed_without_a_second_submit() -> None:
    polls = Counter[str]()

    async def tasks(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, content=b'{"task": "t1"}')
        polls[request.url.path] += 1
        done = polls[request.url.path] > 20
        return httpx.Response(200, content=msgspec.json.encode({"done": done, "images": ["http://a/t1.png"]}))

    world = World(tasks)
    settings = JobSettings(heartbeat_seconds=0.01, stale_after_seconds=0.05)
    first = JobService(world.service, world.state, settings, "replica-1")
    plan = await plan_images(world.service, ImageAsk("slow", "p", 1))
    record = await first.submit(plan, None)
    while not (await first.load(record.id, None) or record).tasks:
        await asyncio.sleep(0.005)
    await first.aclose()  # the replica goes away mid-task
    await asyncio.sleep(0.1)
    second = JobService(world.service, world.state, settings, "replica-2")
    taken = await second.get(record.id, None)
    assert taken is not None and taken.owner == "replica-2"
    while (job := await second.get(record.id, None)) is not None and job.status == "running":
        await asyncio.sleep(0.01)
    assert job is not None and job.status == "succeeded", job
    assert job.result is not None and [d.url for d in job.result.data] == ["http://a/t1.png"]
    assert world.posts("a.test") == 1  # polled to the end by the second replica, never submitted again
    await second.aclose()
