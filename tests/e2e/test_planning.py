"""Each request is planned once: what is checked is the target then used, on every path.

A weighted route picks its first target at random. These routes send half of the
requests to a model that takes ``thinking_mode`` and half to one that refuses it:
whichever is picked, the client gets images or a 400 before anything started, never
a job that fails or a stream that breaks because another pick was the one checked.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import GatewayFactory
from tests.e2e.inputs import upload
from tests.servers import Server, new_key

ROUTES = """
routes:
  mixed:
    targets:
      - {provider: dashscope, model: wan2.7-image, weight: 1}
      - {provider: dashscope, model: qwen-image-max, weight: 1}
  mixed-edit:
    targets:
      - {provider: dashscope, model: wan2.7-image, weight: 1}
      - {provider: dashscope, model: qwen-image-edit-max, weight: 1}
"""
TRIES = 16


@pytest.fixture(scope="module")
def gateway(gateway_factory: GatewayFactory) -> Server:
    return gateway_factory(extra=ROUTES)


def _outcome(response: httpx.Response) -> str:
    if response.status_code == 400:
        assert response.json()["error"]["param"] == "thinking_mode"
        return "refused"
    assert response.status_code in (200, 202), response.text
    return "served"


def _job_result(gateway: Server, location: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = httpx.get(gateway.url + location).json()
        if job["status"] != "running":
            return job  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_an_async_edit_is_checked_against_the_target_its_job_uses(gateway: Server) -> None:
    seen = set()
    for _ in range(TRIES):
        response = httpx.post(
            gateway.url + "/v1/images/edits",
            data={"model": "mixed-edit", "prompt": "p", "thinking_mode": "true"},
            files=[("image", upload(512, 512))],
            headers={"prefer": "respond-async"},
            timeout=30,
        )
        outcome = _outcome(response)
        seen.add(outcome)
        if outcome == "served":
            job = _job_result(gateway, response.headers["location"])
            assert job["status"] == "succeeded", job
            assert job["model"] == "wan2.7-image"
    assert seen == {"refused", "served"}


def test_a_streamed_chat_is_checked_against_the_target_it_streams_from(gateway: Server) -> None:
    seen = set()
    body = {
        "model": "mixed",
        "stream": True,
        "thinking_mode": True,
        "messages": [{"role": "user", "content": "a fox"}],
    }
    for _ in range(TRIES):
        with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, timeout=30) as response:
            response.read()
        outcome = _outcome(response)
        seen.add(outcome)
        if outcome == "served":
            assert '"error"' not in response.text, response.text
            assert "data: [DONE]" in response.text
    assert seen == {"refused", "served"}


def test_a_refused_request_uses_up_none_of_the_clients_rate(gateway_factory: GatewayFactory) -> None:
    key = new_key("gw-")
    limited = gateway_factory(extra=f'keys:\n  - {{name: one, key: "{key}", rpm: 1}}\n')
    headers = {"authorization": f"Bearer {key}"}
    refused = [
        httpx.post(limited.url + "/v1/images/generations", json={"prompt": "p", "seed": "abc"}, headers=headers),
        httpx.post(
            limited.url + "/v1/images/edits",
            data={"model": "wan2.2-t2i-flash", "prompt": "p"},
            files=[("image", upload(512, 512))],
            headers=headers,
        ),
    ]
    assert [r.status_code for r in refused] == [400, 400], [r.text for r in refused]
    served = httpx.post(limited.url + "/v1/images/generations", json={"prompt": "p"}, headers=headers, timeout=30)
    assert served.status_code == 200, served.text
    again = httpx.post(limited.url + "/v1/images/generations", json={"prompt": "p"}, headers=headers, timeout=30)
    assert again.status_code == 429
