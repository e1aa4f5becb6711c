"""Platform features through the openai SDK: aliases, fallback, breakers, pacing, keys, cache, metrics."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.conftest import TEST_CONFIG, GatewayFactory, openai_client
from tests.servers import Server, free_port, new_key, start_emulator


def unique(marker: str = "") -> str:
    return f"a kite {uuid.uuid4().hex[:8]} {marker}".strip()


def metric(server: Server, name: str, **labels: str) -> float:
    """The value of one sample on /metrics (0 when absent)."""
    text = httpx.get(server.url + "/metrics").text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def sent_posts(emulator: Server) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in httpx.get(emulator.url + "/__emulator__/requests").json() if r["method"] == "POST"]


def test_aliases(client: openai.OpenAI) -> None:
    for alias, model in (
        ("dall-e-3", "wan2.7-image"),
        ("dall-e-2", "wanx2.1-t2i-turbo"),
        ("gpt-image-1", "wan2.7-image-pro"),
    ):
        response = client.images.with_raw_response.generate(model=alias, prompt="p", size="1024x1024")
        assert response.headers["x-gateway-model"] == model


FALLBACK_ROUTES = """
routes:
  wan2.7-image:
    targets:
      - {provider: dashscope}
      - {provider: dashscope-intl}
circuit_breaker: {failure_threshold: 2, cooldown_seconds: 1.5}
"""


@pytest.fixture(scope="module")
def broken_cn(gateway_factory: GatewayFactory) -> Server:
    """The China region unreachable (nothing listens there), the international one fine."""
    return gateway_factory(extra=FALLBACK_ROUTES, DASHSCOPE_BASE_URL=f"http://127.0.0.1:{free_port()}")


def test_fallback_to_the_next_region(broken_cn: Server) -> None:
    response = openai_client(broken_cn).images.with_raw_response.generate(model="wan2.7-image", prompt=unique())
    assert response.status_code == 200
    assert response.headers["x-gateway-provider"] == "dashscope-intl"
    assert response.headers["x-gateway-model"] == "wan2.7-image"
    assert metric(broken_cn, "gateway_fallbacks_total", from_provider="dashscope", to_provider="dashscope-intl") >= 1


def test_non_retryable_errors_do_not_fall_back(broken_cn: Server, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["intl"].url + "/__emulator__/requests")
    with pytest.raises(openai.BadRequestError):
        openai_client(broken_cn).images.generate(model="dashscope/wan2.7-image", prompt="p", size="banana")
    assert sent_posts(emulators["intl"]) == []


def test_circuit_opens_and_half_opens(broken_cn: Server) -> None:
    client = openai_client(broken_cn)
    for _ in range(3):
        client.images.generate(model="wan2.7-image", prompt=unique())
    assert metric(broken_cn, "gateway_circuit_state", provider="dashscope", model="wan2.7-image") == 2
    started = time.monotonic()
    client.images.generate(model="wan2.7-image", prompt=unique())  # straight to intl: no connection attempt
    assert time.monotonic() - started < 1.0
    time.sleep(1.6)  # cool-down over: one probe goes to cn, fails, the circuit opens again
    client.images.generate(model="wan2.7-image", prompt=unique())
    assert metric(broken_cn, "gateway_circuit_state", provider="dashscope", model="wan2.7-image") == 2


def test_pacing_keeps_to_documented_limits(gateway_factory: GatewayFactory, keys: type) -> None:
    """Against an emulator that enforces DashScope's limits, the gateway queues instead of collecting 429s."""
    strict = start_emulator("cn", keys.cn, latency=0.2, pending=0.0, extra=("--enforce-limits",))
    try:
        config = (TEST_CONFIG % {"deadline": 30}).replace("pacing: {documented_limits: false}", "pacing: {}", 1)
        gateway = gateway_factory(config, DASHSCOPE_BASE_URL=strict.url)
        client = openai_client(gateway)
        started = time.monotonic()
        with ThreadPoolExecutor(6) as pool:  # qwen-image-2.0 allows 2 requests per second
            results = list(
                pool.map(lambda _: client.images.generate(model="qwen-image-2.0", prompt=unique()), range(6))
            )
        assert all(r.data for r in results)
        assert time.monotonic() - started >= 2.0
        assert metric(gateway, "gateway_upstream_errors_total", code="Throttling.RateQuota") == 0
        assert metric(gateway, "gateway_queue_wait_seconds_count", model="qwen-image-2.0") >= 6
    finally:
        strict.stop()


def test_full_queue_is_429(gateway_factory: GatewayFactory) -> None:
    extra_pacing = "pacing: {documented_limits: false, models: {qwen-image-2.0: {concurrency: 1}}, queue_size: 1}"
    config = (TEST_CONFIG % {"deadline": 30}).replace("pacing: {documented_limits: false}", extra_pacing, 1)
    client = openai_client(gateway_factory(config))

    def call(_: int) -> object:
        try:
            return client.images.generate(model="qwen-image-2.0", prompt=unique("[emu:latency=1]"))
        except openai.RateLimitError as exc:
            return exc

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, range(4)))
    limited = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert limited, results
    assert 1 <= int(limited[0].response.headers["retry-after"]) <= 120


KEYS = """
keys:
  - {name: team-a, key: "${TEAM_A}", models: ["wan2.7-image", "qwen-image*", "dall-e-3"], rpm: 3, max_n: 2}
  - {name: ops, key: "${OPS}"}
admin_key: "${ADMIN}"
"""


def test_client_keys_models_n_and_rpm(gateway_factory: GatewayFactory) -> None:
    team, ops, admin = new_key("gw-"), new_key("gw-"), new_key("adm-")
    gateway = gateway_factory(extra=KEYS, TEAM_A=team, OPS=ops, ADMIN=admin)
    client = openai_client(gateway, api_key=team)
    assert client.images.generate(model="dall-e-3", prompt="p").data
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client.images.generate(model="wanx-v1", prompt="p")
    assert denied.value.code == "model_not_allowed"
    with pytest.raises(openai.PermissionDeniedError) as too_many:
        client.images.generate(model="qwen-image-2.0", prompt="p", n=3)
    assert too_many.value.param == "n"
    client.images.generate(model="qwen-image-max", prompt="p")
    client.images.generate(model="qwen-image-max", prompt="p")
    with pytest.raises(openai.RateLimitError) as limited:
        client.images.generate(model="qwen-image-max", prompt="p")
    assert limited.value.code == "rate_limit_exceeded"
    assert "x-should-retry" not in limited.value.response.headers  # the client may come back later
    assert openai_client(gateway, api_key=ops).images.generate(model="wanx-v1", prompt="p").data
    with pytest.raises(openai.AuthenticationError):
        openai_client(gateway, api_key=admin).images.generate(model="wanx-v1", prompt="p")
    assert httpx.get(gateway.url + "/admin/keys", headers={"authorization": f"Bearer {team}"}).status_code == 401
    assert httpx.get(gateway.url + "/admin/keys", headers={"authorization": f"Bearer {admin}"}).status_code == 200


def test_seeded_requests_are_cached(gateway: Server, emulators: dict[str, Server]) -> None:
    client = openai_client(gateway)
    prompt = unique()
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    first = client.images.generate(model="qwen-image-max", prompt=prompt, extra_body={"seed": 11})
    second = client.images.generate(model="qwen-image-max", prompt=prompt, extra_body={"seed": 11})
    assert first.data and second.data and first.data[0].url == second.data[0].url
    assert len(sent_posts(emulators["cn"])) == 1
    fresh = client.images.generate(
        model="qwen-image-max", prompt=prompt, extra_body={"seed": 11}, extra_headers={"Cache-Control": "no-cache"}
    )
    assert fresh.data and fresh.data[0].url != first.data[0].url
    assert len(sent_posts(emulators["cn"])) == 2
    client.images.generate(model="qwen-image-max", prompt=prompt)  # no seed: never cached
    assert len(sent_posts(emulators["cn"])) == 3
    assert metric(gateway, "gateway_cache_requests_total", result="hit") >= 1
    assert metric(gateway, "gateway_cache_requests_total", result="miss") >= 1


def test_identical_requests_in_flight_share_one_upstream_call(gateway: Server, emulators: dict[str, Server]) -> None:
    client = openai_client(gateway)
    prompt = unique("[emu:latency=1]")
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: client.images.generate(model="wan2.7-image", prompt=prompt), range(3)))
    assert len({r.data[0].url for r in results if r.data}) == 1
    assert len(sent_posts(emulators["cn"])) == 1


def test_metrics_exported(gateway: Server, client: openai.OpenAI) -> None:
    client.images.generate(model="wanx2.1-t2i-turbo", prompt=unique(), n=2)
    text = httpx.get(gateway.url + "/metrics").text
    for name in (
        "gateway_requests_total",
        "gateway_request_duration_seconds_bucket",
        "gateway_overhead_seconds_bucket",
        "gateway_upstream_duration_seconds_bucket",
        "gateway_task_polls_bucket",
        "gateway_queue_wait_seconds_bucket",
        "gateway_in_flight_requests",
        "gateway_images_generated_total",
        "gateway_estimated_cost_total",
        "gateway_provider_key_status",
    ):
        assert name in text, name
    assert 'le="300.0"' in text
    assert (
        metric(
            gateway,
            "gateway_requests_total",
            route="/v1/images/generations",
            model="wanx2.1-t2i-turbo",
            provider="dashscope",
            status="200",
        )
        >= 1
    )
    assert metric(gateway, "gateway_images_generated_total", model="wanx2.1-t2i-turbo") >= 2
    assert metric(gateway, "gateway_provider_key_status", provider="dashscope", status="valid") == 1
    assert "a kite" not in text  # no prompts in labels
