"""Hostile upstreams: echoed keys, answers that are not answers, huge bodies, URLs to elsewhere.

Each case asserts what the client sees and how many POSTs reached the upstream: a call
that was answered is never sent again (it may have been billed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import GatewayFactory, openai_client
from tests.hostile import Hostile
from tests.servers import Server, new_key

DASHSCOPE_KEY = new_key()
COMPAT_KEY = new_key()

CONFIG = """
default_model: qwen-image-2.0
default_provider: hostile-dashscope
providers:
  hostile-dashscope:
    kind: dashscope
    region: cn
    base_url: "${HOSTILE_URL}"
    api_key: "${HOSTILE_DASHSCOPE_KEY}"
    pacing: {documented_limits: false}
  hostile-compat:
    kind: openai-compatible
    base_url: "${HOSTILE_URL}/v1"
    api_key: "${HOSTILE_COMPAT_KEY}"
    image_models: [compat-image]
  hostile-chat:
    kind: openai-compatible
    base_url: "${HOSTILE_URL}/v1"
    api_key: "${HOSTILE_COMPAT_KEY}"
    image_api: chat
    image_models: [compat-chat-image]
    chat_models: [compat-text]
routes:
  compat-then-dashscope:
    targets: [{provider: hostile-compat, model: compat-image}, {provider: hostile-dashscope, model: qwen-image-2.0}]
upstream:
  deadline_seconds: 20
  backoff_initial: 0.05
  backoff_max: 0.1
  poll_initial: 0.05
  poll_max: 0.1
"""

SYNC, ASYNC = "qwen-image-2.0", "wanx2.1-t2i-turbo"
COMPAT, CHAT = "hostile-compat/compat-image", "hostile-chat/compat-chat-image"


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    server, elsewhere = Hostile(), Hostile()
    server.elsewhere, server.other = elsewhere.url, elsewhere
    yield server
    server.stop()
    elsewhere.stop()


@pytest.fixture(scope="module")
def gateway(gateway_factory: GatewayFactory, hostile: Hostile) -> Server:
    return gateway_factory(
        CONFIG, HOSTILE_URL=hostile.url, HOSTILE_DASHSCOPE_KEY=DASHSCOPE_KEY, HOSTILE_COMPAT_KEY=COMPAT_KEY
    )


def _error(call: object) -> openai.APIStatusError:
    assert isinstance(call, openai.APIStatusError), call
    return call


def _generate(client: openai.OpenAI, model: str, marker: str, **options: object) -> object:
    try:
        return client.images.generate(model=model, prompt=f"a cat [hostile:{marker}]", **options)  # type: ignore[call-overload]
    except openai.APIStatusError as exc:
        return exc


def _no_secret(text: str) -> None:
    for secret in (DASHSCOPE_KEY, COMPAT_KEY, DASHSCOPE_KEY[3:15], COMPAT_KEY[3:15]):
        assert secret not in text, text
    assert "Bearer" not in text, text


@pytest.mark.parametrize("model", [SYNC, ASYNC, COMPAT, CHAT])
@pytest.mark.parametrize("marker", ["echo-400", "echo-401", "echo-500"])
def test_an_echoed_key_never_reaches_the_client(gateway: Server, model: str, marker: str) -> None:
    err = _error(_generate(openai_client(gateway), model, marker))
    _no_secret(err.response.text)
    _no_secret(str(err))


def test_an_echoed_key_never_reaches_chat_or_job_clients(gateway: Server) -> None:
    client = openai_client(gateway)
    try:
        client.chat.completions.create(model=SYNC, messages=[{"role": "user", "content": "a cat [hostile:echo-400]"}])
    except openai.APIStatusError as exc:
        _no_secret(exc.response.text)
    else:
        raise AssertionError("expected an error")
    submitted = httpx.post(
        gateway.url + "/v1/images/generations",
        json={"model": ASYNC, "prompt": "a cat [hostile:echo-400]"},
        headers={"prefer": "respond-async"},
        timeout=30,
    )
    assert submitted.status_code == 202, submitted.text
    deadline = time.monotonic() + 20
    while True:
        job = httpx.get(gateway.url + submitted.headers["location"], timeout=10)
        if job.json()["status"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert job.json()["status"] == "failed"
    _no_secret(job.text)


@pytest.mark.parametrize("stream", [False, True])
def test_an_echoed_key_never_reaches_proxied_chat_clients(gateway: Server, stream: bool) -> None:
    client = openai_client(gateway)
    with pytest.raises(openai.APIStatusError) as caught:
        answer = client.chat.completions.create(
            model="hostile-chat/compat-text",
            messages=[{"role": "user", "content": "hello [hostile:echo-400]"}],
            stream=stream,
        )
        if stream:
            list(answer)  # type: ignore[arg-type]
    _no_secret(caught.value.response.text)
    _no_secret(str(caught.value))


@pytest.mark.parametrize(
    ("model", "marker"),
    [
        (SYNC, "non-json"),  # a sync multimodal call answered 200 with a body that is not JSON
        (ASYNC, "non-json"),  # an async submit answered the same way: the task may exist
        (SYNC, "no-images"),
        (SYNC, "deep"),
        (SYNC, "wrong-shape"),
        (COMPAT, "deep"),
        (COMPAT, "wrong-shape"),
        (COMPAT, "non-json"),
        (COMPAT, "no-images"),
        (CHAT, "choices-null"),
    ],
)
def test_an_answered_call_is_sent_once(gateway: Server, hostile: Hostile, model: str, marker: str) -> None:
    before = hostile.posts[marker]
    err = _error(_generate(openai_client(gateway), model, marker))
    assert err.status_code == 502
    assert "not sent again" in err.message
    assert err.response.headers.get("x-should-retry") == "false"
    assert hostile.posts[marker] - before == 1


@pytest.mark.parametrize("model", [SYNC, COMPAT])
def test_a_refused_call_is_retried(gateway: Server, hostile: Hostile, model: str) -> None:
    # A 500 error answer delivers nothing and bills nothing: the documented try-again case.
    before = hostile.posts["echo-500"]
    _error(_generate(openai_client(gateway), model, "echo-500"))
    assert hostile.posts["echo-500"] - before == 3


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("model", [SYNC, COMPAT])
def test_a_huge_answer_is_refused_without_reading_it(gateway: Server, hostile: Hostile, model: str) -> None:
    before = hostile.posts["huge"]
    started = time.monotonic()
    err = _error(_generate(openai_client(gateway), model, "huge"))
    assert err.status_code == 502 and "larger than" in err.message
    assert time.monotonic() - started < 10
    assert hostile.posts["huge"] - before == 1
    assert _peak_rss_mib(gateway.process.pid) < 400
    healthz = time.monotonic()
    assert httpx.get(gateway.url + "/healthz").status_code == 200
    assert time.monotonic() - healthz < 0.5


@pytest.mark.parametrize("marker", ["other-port", "redirect"])
def test_downloads_stay_on_the_upstreams_own_origin(gateway: Server, hostile: Hostile, marker: str) -> None:
    assert hostile.other is not None
    fetched = sum(hostile.other.gets.values())
    err = _error(_generate(openai_client(gateway), COMPAT, marker, response_format="b64_json"))
    assert err.status_code == 502
    assert sum(hostile.other.gets.values()) == fetched


def test_a_proxy_timeout_moves_to_the_next_target_without_resending(gateway: Server, hostile: Hostile) -> None:
    # The work may still run behind the proxy: that target is not asked again, the next one is.
    before = hostile.posts["http-504"]
    result = openai_client(gateway).images.generate(model="compat-then-dashscope", prompt="a cat [hostile:http-504]")
    assert result.data and result.data[0].url
    assert hostile.posts["http-504"] - before == 2  # one to the compat upstream, one to DashScope


@pytest.mark.parametrize("route", ["/v1/images/generations", "/v1/images/edits", "/v1/chat/completions"])
def test_deeply_nested_json_is_a_400(gateway: Server, route: str) -> None:
    deep = b"[" * 1000 + b"]" * 1000  # 2 KB
    body = b'{"model": "qwen-image-2.0", "prompt": "p", "messages": ' + deep + b', "seed": ' + deep + b"}"
    answer = httpx.post(gateway.url + route, content=body, headers={"content-type": "application/json"}, timeout=10)
    assert answer.status_code == 400, answer.text
    assert "nested too deeply" in answer.json()["error"]["message"]


def test_metrics_stay_bounded_under_hostile_names_and_codes(gateway: Server) -> None:
    before = len(httpx.get(gateway.url + "/metrics").text)
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        for i in range(1000):
            name = f"../../etc/passwd-{i}-" + "x" * 200 + "\n\x00"
            answer = http.post("/v1/images/generations", json={"model": name, "prompt": "p"})
            assert answer.status_code == 404
        for model in (SYNC, COMPAT):  # an upstream that names a new error code every time
            for i in range(100):
                http.post("/v1/images/generations", json={"model": model, "prompt": f"p {i} [hostile:new-code]"})
    metrics = httpx.get(gateway.url + "/metrics").text
    assert "passwd" not in metrics
    _no_secret(metrics)  # the echoing upstreams' codes were labels too
    assert len(metrics) - before < 60_000, len(metrics) - before


def test_an_inline_result_that_is_not_an_image_is_a_502(gateway: Server) -> None:
    err = _error(_generate(openai_client(gateway), COMPAT, "not-an-image", response_format="b64_json"))
    assert err.status_code == 502 and "image format" in err.message
