"""Several replicas over one real redis-server: shared limits and cache, surviving Redis going away."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.conftest import GatewayFactory, openai_client
from tests.servers import RedisServer, Server, new_key, start_redis


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


LIMITED_KEY = """
keys:
  - {name: team-a, key: "${TEAM_A}", rpm: 10}
"""


def test_two_replicas_share_one_budget(gateway_factory: GatewayFactory, redis_server: RedisServer) -> None:
    team = new_key("gw-")
    replicas = [gateway_factory(extra=LIMITED_KEY, TEAM_A=team, REDIS_URL=redis_server.url) for _ in range(2)]
    clients = [openai_client(replica, api_key=team) for replica in replicas]
    outcomes = []
    for i in range(16):
        try:
            clients[i % 2].images.generate(model="qwen-image-max", prompt=f"p {i}")
            outcomes.append("ok")
        except openai.RateLimitError:
            outcomes.append("limited")
    assert outcomes.count("ok") == 10, outcomes
    assert all(httpx.get(r.url + "/readyz").json()["checks"]["shared_state"] == "redis" for r in replicas)


def test_cache_is_shared(
    gateway_factory: GatewayFactory, redis_server: RedisServer, emulators: dict[str, Server]
) -> None:
    a, b = (gateway_factory(REDIS_URL=redis_server.url) for _ in range(2))
    prompt = f"shared {uuid.uuid4().hex}"
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    first = openai_client(a).images.generate(model="qwen-image-max", prompt=prompt, extra_body={"seed": 5})
    second = openai_client(b).images.generate(model="qwen-image-max", prompt=prompt, extra_body={"seed": 5})
    assert first.data and second.data and first.data[0].url == second.data[0].url
    posts = [r for r in httpx.get(emulators["cn"].url + "/__emulator__/requests").json() if r["method"] == "POST"]
    assert len(posts) == 1


def test_identical_requests_on_two_replicas_share_one_call(
    gateway_factory: GatewayFactory, redis_server: RedisServer, emulators: dict[str, Server]
) -> None:
    a, b = (gateway_factory(REDIS_URL=redis_server.url) for _ in range(2))
    prompt = f"retried {uuid.uuid4().hex} [emu:latency=1]"
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(lambda g: openai_client(g).images.generate(model="wan2.7-image", prompt=prompt), (a, b))
        )
    assert results[0].data and results[1].data and results[0].data[0].url == results[1].data[0].url
    posts = [r for r in httpx.get(emulators["cn"].url + "/__emulator__/requests").json() if r["method"] == "POST"]
    assert len(posts) == 1


def test_losing_redis_loses_no_request(gateway_factory: GatewayFactory, redis_server: RedisServer) -> None:
    team = new_key("gw-")
    extra = 'keys:\n  - {name: team-b, key: "${TEAM_B}", rpm: 1000}\n'
    replicas = [gateway_factory(extra=extra, TEAM_B=team, REDIS_URL=redis_server.url) for _ in range(2)]
    clients = [openai_client(replica, api_key=team) for replica in replicas]

    def call(i: int) -> bool:
        time.sleep(i * 0.02)
        result = clients[i % 2].images.generate(
            model="wan2.7-image", prompt=f"p {i} [emu:latency=0.2]", extra_body={"seed": i}
        )
        return bool(result.data)

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(call, i) for i in range(60)]
        time.sleep(0.4)
        redis_server.stop()  # mid-stream
        assert all(f.result() for f in futures)
    for replica in replicas:
        ready = httpx.get(replica.url + "/readyz")
        assert ready.status_code == 200
        assert "local" in ready.json()["checks"]["shared_state"]
        metrics = httpx.get(replica.url + "/metrics").text
        assert "gateway_shared_state_up 0.0" in metrics
