"""Async jobs: Prefer: respond-async, polling the job, cancelling, and surviving the replica that ran it."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import GatewayFactory, Keys
from tests.e2e.helpers import png_size_from_b64
from tests.servers import RedisServer, Server, new_key, start_emulator, start_redis

ASYNC = {"prefer": "respond-async", "authorization": "Bearer k"}
FAST_JOBS = "jobs: {heartbeat_seconds: 0.3, stale_after_seconds: 1.5}\n"


def submit(gateway: Server, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(gateway.url + "/v1/images/generations", json=body, headers=headers or ASYNC, timeout=30)


def wait_for(
    gateway: Server, location: str, *, timeout: float = 30, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = httpx.get(gateway.url + location, headers=headers or ASYNC, timeout=10).json()
        if job["status"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError(f"job still running after {timeout}s")


def test_submit_then_collect(gateway: Server) -> None:
    response = submit(
        gateway,
        {
            "model": "wanx2.1-t2i-turbo",
            "prompt": "a fox [emu:latency=0.5]",
            "n": 2,
            "size": "1024x1024",
            "response_format": "b64_json",
        },
    )
    assert response.status_code == 202
    job = response.json()
    assert job["object"] == "image.generation.job" and job["status"] == "running" and job["id"]
    assert isinstance(job["created"], int)
    assert response.headers["location"] == f"/v1/images/jobs/{job['id']}"
    assert response.headers["preference-applied"] == "respond-async"
    done = wait_for(gateway, response.headers["location"])
    assert done["status"] == "succeeded" and len(done["data"]) == 2
    assert png_size_from_b64(done["data"][0]["b64_json"]) == (1024, 1024)
    assert done["size"] == "1024x1024"


def test_failed_job_carries_the_error(gateway: Server) -> None:
    response = submit(gateway, {"model": "qwen-image-max", "prompt": "p [emu:data-inspection]"})
    done = wait_for(gateway, response.headers["location"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "content_policy_violation"


def test_submit_errors_are_immediate(gateway: Server) -> None:
    response = submit(gateway, {"model": "no-such-model", "prompt": "p"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"
    for bad, param in (({"size": "banana"}, "size"), ({"seed": -5}, "seed")):
        response = submit(gateway, {"model": "wanx2.1-t2i-turbo", "prompt": "p", **bad})
        assert response.status_code == 400 and response.json()["error"]["param"] == param
    missing = httpx.get(gateway.url + "/v1/images/jobs/imgjob_nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "job_not_found"


def test_jobs_belong_to_their_key(gateway_factory: GatewayFactory) -> None:
    owner, other = new_key("gw-"), new_key("gw-")
    gateway = gateway_factory(GATEWAY_API_KEYS=f"{owner},{other}")
    mine = {"prefer": "respond-async", "authorization": f"Bearer {owner}"}
    location = submit(gateway, {"model": "qwen-image-max", "prompt": "p"}, mine).headers["location"]
    assert httpx.get(gateway.url + location, headers={"authorization": f"Bearer {other}"}).status_code == 404
    assert wait_for(gateway, location, headers=mine)["status"] == "succeeded"


@pytest.fixture
def slow_queue(gateway_factory: GatewayFactory) -> Iterator[Server]:
    """Tasks stay PENDING for 3 s, so they can still be cancelled."""
    emulator = start_emulator("cn", Keys.cn, latency=0.2, pending=3.0)
    yield gateway_factory(DASHSCOPE_BASE_URL=emulator.url)
    emulator.stop()


def test_cancel_while_queued_upstream(slow_queue: Server) -> None:
    location = submit(slow_queue, {"model": "wanx2.1-t2i-turbo", "prompt": "p"}).headers["location"]
    time.sleep(0.5)  # submitted, still PENDING upstream
    cancelled = httpx.delete(slow_queue.url + location, headers=ASYNC)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    time.sleep(0.3)
    assert httpx.get(slow_queue.url + location).json()["status"] == "cancelled"
    again = httpx.delete(slow_queue.url + location)
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_not_cancellable"


def test_running_and_sync_jobs_cannot_be_cancelled(gateway: Server) -> None:
    running = submit(gateway, {"model": "wanx2.1-t2i-turbo", "prompt": "p [emu:latency=2]"}).headers["location"]
    time.sleep(0.6)  # past PENDING: DashScope no longer cancels it
    refused = httpx.delete(gateway.url + running)
    assert refused.status_code == 409
    sync = submit(gateway, {"model": "qwen-image-max", "prompt": "p [emu:latency=1]"}).headers["location"]
    assert httpx.delete(gateway.url + sync).status_code == 409
    assert wait_for(gateway, running)["status"] == "succeeded"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


def test_another_replica_finishes_the_job(
    gateway_factory: GatewayFactory, redis_server: RedisServer, emulators: dict[str, Server]
) -> None:
    first, second = (gateway_factory(extra=FAST_JOBS, REDIS_URL=redis_server.url) for _ in range(2))
    response = submit(
        first,
        {
            "model": "wanx2.1-t2i-turbo",
            "prompt": "a long one [emu:latency=3]",
            "size": "1792x1024",
            "response_format": "b64_json",
        },
    )
    location = response.headers["location"]
    time.sleep(0.6)  # the task exists upstream and is recorded
    assert httpx.get(second.url + location).json()["status"] == "running"  # first is alive: no takeover
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    done = wait_for(second, location, timeout=30)
    assert done["status"] == "succeeded", done
    assert png_size_from_b64(done["data"][0]["b64_json"]) == (1424, 816)
    stats = httpx.get(emulators["cn"].url + "/__emulator__/stats").json()
    assert stats["tasks_created"] >= 1


def test_edits_as_a_job(gateway: Server) -> None:
    from tests.e2e.inputs import image_bytes

    response = httpx.post(
        gateway.url + "/v1/images/edits",
        files=[
            ("image[]", ("a.png", image_bytes(800, 600), "image/png")),
            ("image[]", ("b.png", image_bytes(600, 800), "image/png")),
        ],
        data={"model": "wan2.5-i2i-preview", "prompt": "put them together", "size": "1024x1024"},
        headers=ASYNC,
        timeout=30,
    )
    assert response.status_code == 202, response.text
    done = wait_for(gateway, response.headers["location"])
    assert done["status"] == "succeeded" and done["model"] == "wan2.5-i2i-preview" and done["data"][0]["url"]
