"""Webhooks for async jobs: signed deliveries a receiver verifies, retries, a replica that dies, refusals.

Receivers are small HTTP servers in this process on loopback, which the gateway calls only
because ``127.0.0.1`` is listed exactly in ``webhooks.allowed_hosts``: the explicit-listing rule.
"""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import GatewayFactory, openai_client
from tests.e2e.inputs import image_bytes
from tests.servers import LOG_DIR, RedisServer, Server, new_key, start_redis

#: new_key registers it, so the end-of-run scan fails the run if it shows up in any output.
SECRET = new_key("whsec_")
ASYNC = {"prefer": "respond-async"}


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Answers each delivery with the next status of ``statuses`` (the last one repeats)."""

    statuses: list[int]
    deliveries: list[Delivery] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, count: int, timeout: float = 20) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.deliveries) >= count:
                    return list(self.deliveries)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.deliveries)} deliveries after {timeout}s, expected {count}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver([200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with state.lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                state.deliveries.append(Delivery(headers, body, time.monotonic()))
                status = state.statuses[min(len(state.deliveries), len(state.statuses)) - 1]
                with (LOG_DIR / "webhook-deliveries.log").open("ab") as out:  # searched for secrets
                    out.write(f"{status} {dict(self.headers.items())}\n".encode() + body + b"\n")
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/images?source=gateway"
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def webhooks_config(retry_schedule: str = "[0.2, 0.4]", extra: str = "") -> str:
    return (
        "webhooks:\n"
        '  secret: "${WEBHOOK_SECRET}"\n'
        '  allowed_hosts: ["127.0.0.1", "*.example.com"]\n'
        f"  retry_schedule: {retry_schedule}\n"
        "  timeout_seconds: 2\n" + extra
    )


@pytest.fixture(scope="module")
def hooked(gateway_factory: GatewayFactory) -> Server:
    return gateway_factory(extra=webhooks_config(), WEBHOOK_SECRET=SECRET)


def verified(delivery: Delivery) -> dict[str, Any]:
    """The event, once the reference implementation has verified its signature."""
    event: dict[str, Any] = Webhook(SECRET).verify(delivery.body, delivery.headers)
    return event


def job_of(gateway: Server, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = httpx.get(f"{gateway.url}/v1/images/jobs/{job_id}", timeout=10).json()
    return job


def test_a_receiver_verifies_the_delivery(hooked: Server, receiver: Receiver, cn: Server) -> None:
    client = openai_client(hooked)
    raw = client.images.with_raw_response.generate(
        model="qwen-image-max",
        prompt="a lighthouse",
        extra_headers=ASYNC,
        extra_body={"webhook_url": receiver.url, "seed": 7},
    )
    assert raw.status_code == 202
    job_id = raw.http_response.json()["id"]
    (delivery,) = receiver.wait(1)
    event = verified(delivery)
    assert event["type"] == "image.job.succeeded"
    assert event["timestamp"].endswith("Z") and isinstance(event["data"], dict)
    assert event["data"] == job_of(hooked, job_id)  # exactly the job as GET answers it
    assert event["data"]["status"] == "succeeded" and event["data"]["data"][0]["url"]
    assert delivery.headers["webhook-id"].startswith("msg_")
    assert delivery.headers["content-type"] == "application/json"
    sent = httpx.get(cn.url + "/__emulator__/requests").json()
    assert sent and all("webhook_url" not in json.dumps(r) for r in sent)  # never sent upstream


def test_a_failed_job_and_an_edit(hooked: Server, receiver: Receiver) -> None:
    client = openai_client(hooked)
    failing = client.images.with_raw_response.generate(
        model="qwen-image-max",
        prompt="p [emu:data-inspection]",
        extra_headers=ASYNC,
        extra_body={"webhook_url": receiver.url},
    )
    edit = client.images.with_raw_response.edit(
        model="wan2.5-i2i-preview",
        image=("a.png", image_bytes(640, 480), "image/png"),
        prompt="make it night",
        extra_headers=ASYNC,
        extra_body={"webhook_url": receiver.url},
    )
    assert failing.status_code == edit.status_code == 202
    events = {e["data"]["id"]: e for e in map(verified, receiver.wait(2))}
    failed = events[failing.http_response.json()["id"]]
    assert failed["type"] == "image.job.failed"
    assert failed["data"]["error"]["code"] == "content_policy_violation"
    assert failed["data"] == job_of(hooked, failed["data"]["id"])
    edited = events[edit.http_response.json()["id"]]
    assert edited["type"] == "image.job.succeeded" and edited["data"]["model"] == "wan2.5-i2i-preview"


def test_failing_twice_then_succeeding(hooked: Server, receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 200]
    response = httpx.post(
        hooked.url + "/v1/images/generations",
        json={"model": "qwen-image-max", "prompt": "p", "webhook_url": receiver.url},
        headers=ASYNC,
        timeout=30,
    )
    assert response.status_code == 202
    deliveries = receiver.wait(3)
    time.sleep(0.8)  # delivered: no fourth attempt follows
    assert len(receiver.deliveries) == 3
    assert len({d.headers["webhook-id"] for d in deliveries}) == 1  # one id to dedupe on
    assert len({d.body for d in deliveries}) == 1
    assert all(verified(d)["data"]["id"] == response.json()["id"] for d in deliveries)
    gaps = [b.at - a.at for a, b in itertools.pairwise(deliveries)]
    assert gaps[0] >= 0.15 and gaps[1] >= 0.35, gaps  # the schedule: 0.2 s, then 0.4 s
    metrics = httpx.get(hooked.url + "/metrics").text
    assert 'gateway_webhook_deliveries_total{outcome="retry"}' in metrics
    assert 'gateway_webhook_deliveries_total{outcome="delivered"}' in metrics
    assert receiver.url not in metrics and "127.0.0.1" not in metrics


def test_giving_up_after_max_attempts(gateway_factory: GatewayFactory, receiver: Receiver) -> None:
    gateway = gateway_factory(extra=webhooks_config("[0.1]", "  max_attempts: 3\n"), WEBHOOK_SECRET=SECRET)
    receiver.statuses = [500]
    body = {"model": "qwen-image-max", "prompt": "p", "webhook_url": receiver.url}
    response = httpx.post(gateway.url + "/v1/images/generations", json=body, headers=ASYNC)
    assert response.status_code == 202
    receiver.wait(3)
    assert job_of(gateway, response.json()["id"])["status"] == "succeeded"  # collected: the drain need not wait
    time.sleep(0.6)
    assert len(receiver.deliveries) == 3
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'gateway_webhook_deliveries_total{outcome="failed"} 1.0' in metrics
    assert receiver.url.split("?")[0] not in gateway.output()  # logs name the host only


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


def test_a_delivery_pending_on_a_killed_replica_is_made_by_another(
    gateway_factory: GatewayFactory, redis_server: RedisServer, receiver: Receiver
) -> None:
    extra = webhooks_config("[2.0]")
    first, second = (gateway_factory(extra=extra, WEBHOOK_SECRET=SECRET, REDIS_URL=redis_server.url) for _ in "ab")
    receiver.statuses = [500, 200]
    response = httpx.post(
        first.url + "/v1/images/generations",
        json={"model": "qwen-image-max", "prompt": "p", "webhook_url": receiver.url},
        headers=ASYNC,
        timeout=30,
    )
    assert response.status_code == 202
    receiver.wait(1)  # the first attempt failed; the retry waits 2 s in Redis
    # ... once the replica that made it has queued the retry: killed between the receiver's 500
    # and that, the delivery stays leased for the lease's 30-odd seconds (a loaded machine hit it).
    retried = 'gateway_webhook_deliveries_total{outcome="retry"} 1.0'
    deadline = time.monotonic() + 10
    while not any(retried in httpx.get(g.url + "/metrics").text for g in (first, second)):
        assert time.monotonic() < deadline, "no replica queued the retry"
        time.sleep(0.05)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    deliveries = receiver.wait(2, timeout=15)
    event = verified(deliveries[1])  # nobody asked about the job: the queue alone brought it
    assert deliveries[1].headers["webhook-id"] == deliveries[0].headers["webhook-id"]
    assert event["data"] == job_of(second, response.json()["id"])
    assert 'gateway_webhook_deliveries_total{outcome="delivered"} 1.0' in httpx.get(second.url + "/metrics").text


def test_a_job_resumed_on_another_replica_still_calls_back(
    gateway_factory: GatewayFactory, redis_server: RedisServer, receiver: Receiver, tmp_path: Path
) -> None:
    ledger = tmp_path / "usage.db"  # one SQLite ledger both replicas write to
    extra = webhooks_config() + (
        "jobs: {heartbeat_seconds: 0.3, stale_after_seconds: 1.5}\n"
        f"usage: {{database_url: 'sqlite:///{ledger}', flush_seconds: 0.2}}\n"
        'admin_key: "${ADMIN}"\n'
    )
    admin = new_key("adm-")
    first, second = (
        gateway_factory(extra=extra, WEBHOOK_SECRET=SECRET, REDIS_URL=redis_server.url, ADMIN=admin) for _ in "ab"
    )
    # wanx-v1: async, and priced in the catalog (0.16 CNY an image, Alibaba's own figure).
    body = {"model": "wanx-v1", "prompt": "a long one [emu:latency=3]", "n": 1, "webhook_url": receiver.url}
    response = httpx.post(first.url + "/v1/images/generations", json=body, headers=ASYNC, timeout=30)
    assert response.status_code == 202
    job_id = response.json()["id"]
    time.sleep(0.6)  # the task exists upstream and is recorded
    first.process.send_signal(signal.SIGKILL)  # dies with the job still running
    first.process.wait()
    deadline = time.monotonic() + 20
    while job_of(second, job_id)["status"] == "running":  # asking about it makes the second take it over
        assert time.monotonic() < deadline
        time.sleep(0.3)
    event = verified(receiver.wait(1)[0])
    assert event["type"] == "image.job.succeeded" and event["data"] == job_of(second, job_id)
    # ... and its one usage record, written by the replica that finished it, has its cost.
    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while not rows and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = httpx.get(
            second.url + "/admin/usage", params={"group_by": "model"}, headers={"authorization": f"Bearer {admin}"}
        )
        rows = [r for r in answer.json()["data"] if r["model"] == "wanx-v1"]
    assert [(r["requests"], r["images"], r["est_cost"], r["currency"]) for r in rows] == [(1, 1, 0.16, "CNY")]


KEYED = """
keys:
  - {name: team-a, key: "${TEAM_A}", webhook_hosts: [localhost, 127.0.0.1, "::1"]}
  - {name: team-b, key: "${TEAM_B}"}
"""


def test_refusals_come_before_the_202_and_before_any_upstream_call(
    gateway_factory: GatewayFactory, gateway: Server, receiver: Receiver, cn: Server
) -> None:
    team_a, team_b = new_key("gw-"), new_key("gw-")
    keyed = gateway_factory(extra=webhooks_config() + KEYED, WEBHOOK_SECRET=SECRET, TEAM_A=team_a, TEAM_B=team_b)
    local = receiver.url.replace("127.0.0.1", "localhost")

    def post(server: Server, url: str, key: str = "k", headers: dict[str, str] = ASYNC, **body: Any) -> httpx.Response:
        payload = {"model": "qwen-image-max", "prompt": "p", "webhook_url": url, **body}
        auth = {"authorization": f"Bearer {key}", **headers}
        return httpx.post(server.url + "/v1/images/generations", json=payload, headers=auth, timeout=30)

    refused = [
        (post(keyed, local, team_b), "webhook_url_not_allowed"),  # loopback by name: not listed for team-b
        (post(keyed, "https://hooks.example.org/x", team_a), "webhook_url_not_allowed"),
        (post(keyed, "http://10.0.0.1/x", team_a), "webhook_url_not_allowed"),
        (post(keyed, "https://user:pw@hooks.example.com/x", team_a), "webhook_url_not_allowed"),
        (post(keyed, "https://" + "a" * 2100 + ".example.com/", team_a), "webhook_url_not_allowed"),
        (post(keyed, receiver.url, team_a, headers={}), "webhook_requires_async"),
        (post(keyed, receiver.url, team_a, stream=True), "webhook_requires_async"),
        (post(gateway, receiver.url), "webhooks_not_configured"),
    ]
    for response, code in refused:
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["code"], error["param"], error["type"]) == (code, "webhook_url", "invalid_request_error")
        assert "pw" not in error["message"] and "/x" not in error["message"]
    wrong_type = post(keyed, 42, team_a)  # type: ignore[arg-type]
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["param"] == "webhook_url"
    assert [r for r in httpx.get(cn.url + "/__emulator__/requests").json() if r["method"] == "POST"] == []
    assert post(keyed, local, team_a).status_code == 202  # team-a lists localhost and its addresses
    assert verified(receiver.wait(1)[0])["type"] == "image.job.succeeded"
