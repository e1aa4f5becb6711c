"""Every DashScope error the emulator can make, as the openai SDK sees it, and how often it was sent."""

from __future__ import annotations

import time
import uuid

import httpx
import openai
import pytest

from tests.conftest import GatewayFactory, openai_client
from tests.e2e.inputs import emulator_posts
from tests.servers import Server


def _raw_error(gateway: Server, body: dict[str, object] | bytes) -> httpx.Response:
    content = body if isinstance(body, bytes) else None
    payload = None if isinstance(body, bytes) else body
    return httpx.post(
        gateway.url + "/v1/images/generations",
        content=content,
        json=payload,
        headers={"authorization": "Bearer x", "content-type": "application/json"},
        timeout=60,
    )


def _assert_envelope(response: httpx.Response, status: int, code: str | None, param: str | None = None) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == code
    if param is not None:
        assert body["error"]["param"] == param
    assert response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body["error"]  # type: ignore[no-any-return]


def _unique(marker: str) -> str:
    # flaky-style markers count per prompt, so every test run gets its own prompt
    return f"a lighthouse {uuid.uuid4().hex[:8]} [emu:{marker}]"


#: Faults DashScope documents as "try again" (throttling, internal errors, a task that
#: FAILED unbilled): retried. Everything else is sent once.
_SENT_AGAIN = {
    "throttle",
    "throttle-rate",
    "throttle-burst",
    "http-500",
    "http-503",
    "internal-error",
    "algo-error",
    "all-failed",
    "business-200",
}


@pytest.mark.parametrize(
    ("model", "marker", "status", "code", "exc"),
    [
        ("qwen-image-max", "data-inspection", 400, "content_policy_violation", openai.BadRequestError),
        ("wanx2.1-t2i-turbo", "data-inspection", 400, "content_policy_violation", openai.BadRequestError),
        ("wanx2.1-t2i-turbo", "data-inspection-output", 400, "content_policy_violation", openai.BadRequestError),
        ("qwen-image-2.0", "ip-infringement", 400, "content_policy_violation", openai.BadRequestError),
        ("wan2.2-t2i-flash", "ip-infringement", 400, "content_policy_violation", openai.BadRequestError),
        ("qwen-image-max", "throttle", 429, "rate_limit_exceeded", openai.RateLimitError),
        ("wan2.7-image", "throttle-rate", 429, "rate_limit_exceeded", openai.RateLimitError),
        ("wanx-v1", "throttle-burst", 429, "rate_limit_exceeded", openai.RateLimitError),
        ("wan2.7-image", "quota", 429, "insufficient_quota", openai.RateLimitError),
        ("wan2.7-image", "arrearage", 429, "insufficient_quota", openai.RateLimitError),
        ("qwen-image-plus", "billing", 429, "insufficient_quota", openai.RateLimitError),
        ("wan2.7-image", "unpurchased", 403, "model_not_activated", openai.PermissionDeniedError),
        ("qwen-image-max", "http-500", 502, "upstream_error", openai.InternalServerError),
        ("wan2.6-t2i", "http-503", 502, "upstream_error", openai.InternalServerError),
        ("wanx2.1-t2i-plus", "internal-error", 502, "upstream_error", openai.InternalServerError),
        ("wan2.5-t2i-preview", "algo-error", 502, "upstream_error", openai.InternalServerError),
        ("wanx2.1-t2i-turbo", "all-failed", 502, "upstream_error", openai.InternalServerError),
        ("wanx2.1-t2i-turbo", "unknown", 502, "upstream_error", openai.InternalServerError),
        ("wanx2.1-t2i-turbo", "canceled", 502, "upstream_error", openai.InternalServerError),
        ("qwen-image-2.0", "business-200", 502, "upstream_error", openai.InternalServerError),
        # An input DashScope could not fetch: a 415 on sync calls, a FAILED task on async ones.
        ("qwen-image-3.0", "input-download-failed", 400, "invalid_parameter", openai.BadRequestError),
        ("wanx2.1-t2i-turbo", "input-download-failed", 400, "invalid_parameter", openai.BadRequestError),
    ],
)
def test_error_rows(
    client: openai.OpenAI,
    emulators: dict[str, Server],
    model: str,
    marker: str,
    status: int,
    code: str,
    exc: type[openai.APIStatusError],
) -> None:
    prompt = _unique(marker)
    with pytest.raises(exc) as info:
        client.images.generate(model=model, prompt=prompt, size="1024x1024")
    sent = [r for r in emulator_posts(emulators["cn"].url) if prompt in str(r.get("json"))]
    # Only what provably made nothing is sent again (up to max_attempts); all else goes once.
    assert len(sent) == (3 if marker in _SENT_AGAIN else 1)
    error = info.value
    assert error.status_code == status
    assert error.code == code
    assert isinstance(error.body, dict) and set(error.body) == {"message", "type", "param", "code"}
    headers = error.response.headers
    assert headers["x-request-id"]
    assert "request_id" in error.message  # DashScope's request id, for support
    if status == 429:
        assert 1 <= int(headers["retry-after"]) <= 120
    if code in {"rate_limit_exceeded", "insufficient_quota", "upstream_error"}:
        assert headers["x-should-retry"] == "false"


def test_upstream_invalid_parameter(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="wanx-v1", prompt="p", style="<not-a-style>")  # type: ignore[arg-type]
    assert info.value.code == "invalid_parameter"


def test_transient_failures_are_retried(client: openai.OpenAI) -> None:
    for marker in ("flaky=2", "flaky-throttle=2", "flaky-task=2"):
        model = "wanx2.1-t2i-turbo" if marker == "flaky-task=2" else "qwen-image-max"
        result = client.images.generate(model=model, prompt=_unique(marker))
        assert result.data and result.data[0].url


def test_partial_failure_returns_the_successes(client: openai.OpenAI) -> None:
    result = client.images.generate(model="wanx2.1-t2i-turbo", prompt=_unique("partial"), n=3)
    assert result.data is not None and len(result.data) == 1


def test_rejected_provider_key_is_502(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(DASHSCOPE_API_KEY="sk-" + "0" * 32)
    with pytest.raises(openai.InternalServerError) as info:
        openai_client(gateway).images.generate(model="qwen-image-max", prompt="p")
    assert info.value.status_code == 502
    assert info.value.code == "upstream_auth_error"
    assert info.value.response.headers["x-should-retry"] == "false"
    assert "0" * 32 not in info.value.message


def test_deadline_is_504(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(deadline=1.5)
    started = time.monotonic()
    for model in ("wanx2.1-t2i-turbo", "qwen-image-max"):  # async polling, and a sync call
        with pytest.raises(openai.APIStatusError) as info:
            openai_client(gateway).images.generate(model=model, prompt=_unique("stuck"))
        assert info.value.status_code == 504
        assert info.value.code == "upstream_timeout"
    assert time.monotonic() - started < 8


def test_b64_download_failures_are_loud(client: openai.OpenAI) -> None:
    for marker in ("broken-url", "html-url", "expired-url"):
        with pytest.raises(openai.InternalServerError) as info:
            client.images.generate(model="qwen-image-max", prompt=_unique(marker), response_format="b64_json")
        assert info.value.status_code == 502
        assert info.value.code == "upstream_error"
    # with url the client gets the URL, as DashScope gave it
    result = client.images.generate(model="qwen-image-max", prompt=_unique("broken-url"))
    assert result.data and result.data[0].url


@pytest.mark.parametrize("size", ["banana", "0x5", "1024", "-5x5", "12x"])
def test_bad_sizes(gateway: Server, size: str) -> None:
    _assert_envelope(_raw_error(gateway, {"prompt": "p", "size": size}), 400, "invalid_size", "size")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b'{"prompt": "p",', None),
        (b"not json", None),
        (b"", None),
        (b"[1, 2]", None),
        ({"size": "1024x1024"}, "prompt"),
        ({"prompt": 5}, "prompt"),
        ({"prompt": "  "}, "prompt"),
        ({"prompt": "p", "n": "two"}, "n"),
        ({"prompt": "p", "response_format": "gif"}, "response_format"),
        ({"prompt": "p", "seed": "x"}, "seed"),
        ({"prompt": "p", "model": "wanx2.1-t2i-turbo", "watermark": "yes"}, "watermark"),
    ],
)
def test_malformed_requests(gateway: Server, body: dict[str, object] | bytes, param: str | None) -> None:
    error = _assert_envelope(_raw_error(gateway, body), 400, None, param)
    assert error["type"] == "invalid_request_error"


def test_unknown_fields_are_ignored(client: openai.OpenAI) -> None:
    result = client.images.generate(
        model="qwen-image-max", prompt="p", extra_body={"brand_new_openai_field": {"x": 1}, "moderation": "low"}
    )
    assert result.data


def test_unknown_route_and_method(gateway: Server) -> None:
    _assert_envelope(httpx.get(gateway.url + "/v1/nothing-here"), 404, "not_found")
    _assert_envelope(httpx.get(gateway.url + "/v1/images/generations"), 405, "method_not_allowed")


def test_client_going_away_stops_polling(gateway: Server, emulators: dict[str, Server]) -> None:
    prompt = _unique("stuck")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            gateway.url + "/v1/images/generations",
            json={"model": "wanx2.1-t2i-turbo", "prompt": prompt},
            timeout=1.0,
        )
    stats = emulators["cn"].url + "/__emulator__/stats"

    def polls() -> int:
        return sum(httpx.get(stats).json()["polls"].values())

    time.sleep(1.0)  # past the single-flight grace (0.3 s in the test config)
    before = polls()
    time.sleep(1.0)
    assert polls() == before
