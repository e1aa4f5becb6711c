"""``serve --workers N``: one pod's worker processes share limits, jobs, metrics and the ledger,
with Redis and (through the supervisor's SQLite state) without it; drain, respawn, CLI errors.

Which worker answered is read from the per-process metric files the workers write under
``PROMETHEUS_MULTIPROC_DIR``: responses carry nothing that says so. Every request goes on a
fresh connection, which the kernel hashes to one of the workers' sockets.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import TEST_CONFIG, gateway_env, openai_client
from tests.e2e.test_usage import LEDGER, Team, assert_matches, wait_for_rows
from tests.servers import LOG_DIR, RedisServer, Server, clean_env, new_key, start_gateway, start_redis

ASYNC_JOBS = "jobs: {heartbeat_seconds: 0.3, stale_after_seconds: 1.5}\n"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


class Pod:
    """A ``serve --workers N`` gateway and the directory its workers' metric files are in."""

    def __init__(self, server: Server, metrics_dir: Path) -> None:
        self.server = server
        self.metrics_dir = metrics_dir

    @property
    def url(self) -> str:
        return self.server.url

    def served(self, route: str, total: int | None = None) -> dict[int, float]:
        """Requests answered per worker pid on ``route`` (route label), from each one's own file;
        with ``total``, once they add up to it (a request is counted just after its answer)."""
        deadline = time.monotonic() + 5
        while True:
            counts = self._served(route)
            if total is None or sum(counts.values()) >= total or time.monotonic() > deadline:
                return counts
            time.sleep(0.05)

    def _served(self, route: str) -> dict[int, float]:
        counts: dict[int, float] = {}
        for path in self.metrics_dir.glob("counter_*.db"):
            pid = int(path.stem.split("_")[1])
            for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
                for sample in metric.samples:
                    if sample.name == "gateway_requests_total" and sample.labels["route"] == route:
                        counts[pid] = counts.get(pid, 0.0) + sample.value
        return counts


@pytest.fixture
def pod_factory(emulators: dict[str, Server], tmp_path: Path) -> Iterator[Any]:
    started: list[Server] = []

    def make(extra: str = "", *, workers: int = 2, config: str | None = None, **env: str) -> Pod:
        metrics_dir = tmp_path / f"metrics-{uuid.uuid4().hex[:6]}"
        text = config if config is not None else TEST_CONFIG % {"deadline": 30} + extra
        environment = gateway_env(emulators, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), **env)
        server = start_gateway(environment, text, tmp=tmp_path, workers=workers)
        started.append(server)
        return Pod(server, metrics_dir)

    yield make
    for server in started:
        server.stop()


def fresh_client(pod: Pod, api_key: str = "sk-any-client-key") -> openai.OpenAI:
    """An SDK client on a connection of its own (the kernel picks the worker per connection)."""
    return openai_client(pod.server, api_key=api_key)


def metric_total(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_two_workers_serve_and_metrics_count_both(pod_factory: Any) -> None:
    pod = pod_factory()
    assert len(pod.server.workers()) == 2
    for i in range(24):
        client = fresh_client(pod)
        assert client.images.generate(model="qwen-image-max", prompt=f"p {i}").data
        client.close()
    served = pod.served("/v1/images/generations", 24)
    assert len(served) == 2 and all(n > 0 for n in served.values()), served
    assert sum(served.values()) == 24
    # Whichever worker answers the scrape, it shows the whole pod.
    for _ in range(6):
        text = httpx.get(pod.url + "/metrics").text
        assert metric_total(text, "gateway_requests_total", route="/v1/images/generations", status="200") == 24
        assert metric_total(text, "gateway_images_generated_total") == 24
        assert "# TYPE gateway_in_flight_requests gauge" in text


@pytest.mark.parametrize("shared", ["sqlite", "redis"])
def test_a_job_is_readable_on_every_worker(pod_factory: Any, redis_server: RedisServer, shared: str) -> None:
    env = {"REDIS_URL": redis_server.url} if shared == "redis" else {}
    pod = pod_factory(ASYNC_JOBS, **env)
    headers = {"authorization": "Bearer k"}
    client = fresh_client(pod)
    raw = client.images.with_raw_response.generate(
        model="qwen-image-max", prompt="a job [emu:latency=0.5]", extra_headers={"Prefer": "respond-async"}
    )
    assert raw.status_code == 202
    location = raw.headers["location"]
    statuses = []
    for _ in range(40):  # running on one worker, read on both
        response = httpx.get(pod.url + location, headers=headers)
        assert response.status_code == 200, response.text
        statuses.append(response.json()["status"])
    deadline = time.monotonic() + 20
    while statuses[-1] == "running" and time.monotonic() < deadline:
        statuses.append(httpx.get(pod.url + location, headers=headers).json()["status"])
        time.sleep(0.05)
    assert statuses[-1] == "succeeded", statuses
    for _ in range(20):  # finished: every worker has the result
        done = httpx.get(pod.url + location, headers=headers)
        assert done.status_code == 200 and done.json()["status"] == "succeeded" and done.json()["data"]
    served = pod.served("/v1/images/jobs/{id}")
    assert len(served) == 2 and all(n > 0 for n in served.values()), served
    health = httpx.get(pod.url + "/readyz").json()["checks"]["shared_state"]
    assert health.startswith("redis" if shared == "redis" else "sqlite")


@pytest.mark.parametrize("shared", ["sqlite", "redis"])
def test_a_key_limit_holds_for_the_pod(pod_factory: Any, redis_server: RedisServer, shared: str) -> None:
    team = new_key("gw-")
    env = {"REDIS_URL": redis_server.url} if shared == "redis" else {}
    pod = pod_factory('keys:\n  - {name: team-a, key: "${TEAM_A}", rpm: 5}\n', TEAM_A=team, **env)
    outcomes = []
    for i in range(16):
        client = fresh_client(pod, api_key=team)
        try:
            client.images.generate(model="qwen-image-max", prompt=f"limited {i}")
            outcomes.append("ok")
        except openai.RateLimitError:
            outcomes.append("limited")
        client.close()
    assert outcomes.count("ok") == 5, outcomes  # not 5 per worker
    served = pod.served("/v1/images/generations", 16)
    assert len(served) == 2 and all(n > 0 for n in served.values()), served


def test_usage_totals_are_exact_across_workers(pod_factory: Any) -> None:
    """Both workers write the one SQLite ledger (WAL, busy timeout); /admin/usage adds up both."""
    a, b, admin = new_key("gw-"), new_key("gw-"), new_key("adm-")
    pod = pod_factory(
        config=TEST_CONFIG % {"deadline": 30} + LEDGER.replace('  database_url: "${USAGE_DATABASE_URL}"\n', ""),
        TEAM_A=a,
        TEAM_B=b,
        ADMIN=admin,
    )
    teams = {"team-a": Team(), "team-b": Team()}
    results: list[tuple[str, Any]] = []

    def call(i: int) -> None:
        name, key = ("team-a", a) if i % 2 else ("team-b", b)
        client = fresh_client(pod, api_key=key)
        results.append((name, client.images.generate(model="qwen-image-max", prompt=f"u {i}", size="1024x1024")))
        client.close()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 30
    for name, result in results:
        teams[name].made(result, 0.03 * len(result.data or []), "USD")
    served = pod.served("/v1/images/generations", 30)
    assert len(served) == 2 and all(n > 0 for n in served.values()), served
    for _ in range(4):  # the same totals whichever worker reads them
        assert_matches(wait_for_rows(pod.server, admin, 30), teams)


def test_sigterm_drains_every_worker_and_exits_0(pod_factory: Any) -> None:
    pod = pod_factory()
    workers = pod.server.workers()
    results: list[object] = []

    def slow(i: int) -> None:
        client = fresh_client(pod)
        try:  # an async model: its polling must finish on whichever worker has it
            results.append(client.images.generate(model="wanx2.1-t2i-turbo", prompt=f"p {i} [emu:latency=2.5]"))
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=slow, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.8)
    busy = metric_total(httpx.get(pod.url + "/metrics").text, "gateway_in_flight_requests")
    assert busy == 8  # livesum: both workers' requests in flight
    pod.server.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    for _ in range(6):
        assert httpx.get(pod.url + "/readyz").status_code == 503
    assert pod.server.process.poll() is None and all(Path(f"/proc/{pid}").exists() for pid in workers)
    for thread in threads:
        thread.join(15)
    assert len(results) == 8 and not [r for r in results if isinstance(r, Exception)], results
    assert pod.server.process.wait(15) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert "did not exit cleanly" not in pod.server.output()


def test_a_killed_worker_is_respawned(pod_factory: Any) -> None:
    pod = pod_factory()
    for i in range(10):
        with fresh_client(pod) as client:
            client.images.generate(model="qwen-image-max", prompt=f"before {i}")
    first, second = pod.server.workers()
    subprocess.run(["kill", "-9", str(first)], check=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        workers = pod.server.workers()
        if len(workers) == 2 and first not in workers:
            break
        time.sleep(0.05)
    assert second in pod.server.workers() and first not in pod.server.workers()
    for i in range(10):  # connections on the respawned worker's socket wait for it, then are served
        with fresh_client(pod) as client:
            assert client.images.generate(model="qwen-image-max", prompt=f"after {i}").data
    log = pod.server.output()
    assert '"msg":"worker exited unexpectedly; respawning"' in log and f'"pid":{first}' in log
    # The dead worker's counts stay in the pod's totals.
    assert sum(pod.served("/v1/images/generations", 20).values()) == 20
    text = httpx.get(pod.url + "/metrics").text
    assert metric_total(text, "gateway_requests_total", route="/v1/images/generations") == 20
    assert pod.server.stop() == 0


def test_embedded_emulators_are_shared_by_the_workers(tmp_path: Path) -> None:
    """No key on loopback: the supervisor serves one emulator and every worker uses it."""
    metrics_dir = tmp_path / "metrics"
    server = start_gateway({"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, None, workers=2)
    try:
        out = server.output()
        assert out.count("serving from the built-in DashScope emulator") == 1, out
        results: list[Any] = []

        def call(i: int) -> None:
            with openai_client(server) as client:
                results.append(client.images.generate(model="wan2.7-image", prompt=f"emulated {i}"))

        threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]  # both sockets
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(results) == 16 and all(r.data for r in results)
        served = Pod(server, metrics_dir).served("/v1/images/generations", 16)
        assert len(served) == 2 and all(n > 0 for n in served.values()), served
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize(("value", "message"), [("0", "at least 1"), ("two", "not a whole number")])
def test_workers_must_be_a_positive_number(value: str, message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--workers", value],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env({}),
    )
    assert result.returncode == 2 and f"--workers: {value!r}" not in result.stdout
    assert "argument --workers" in result.stderr and message in result.stderr, result.stderr


def test_workers_from_the_environment() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env({"GATEWAY_WORKERS": "0"}),
    )
    assert result.returncode == 2 and "at least 1" in result.stderr, result.stderr
    assert LOG_DIR  # the run's logs are searched for secrets like every other test's


def test_drain_waits_for_finished_jobs_read_on_any_worker(pod_factory: Any) -> None:
    """Without Redis a pod's job results live in its state file, gone with the pod: the drain
    waits until each has been read once, on whichever worker the read lands."""
    pod = pod_factory("drain_seconds: 30\n")
    headers = {"prefer": "respond-async", "authorization": "Bearer k"}
    body = {"model": "wanx2.1-t2i-turbo", "prompt": "p [emu:latency=0.2]"}
    locations: list[str] = []
    # Fresh connections until both workers have run some: the kernel's hash may put the first
    # few on one socket (six in a row on one of two happens about one time in 32).
    while len(locations) < 6 or len(pod.served("/v1/images/generations", len(locations))) < 2:
        assert len(locations) < 60, pod.served("/v1/images/generations")
        response = httpx.post(pod.url + "/v1/images/generations", json=body, headers=headers, timeout=30)
        assert response.status_code == 202, response.text
        locations.append(response.headers["location"])
    time.sleep(1.5)  # all finished, none read
    pod.server.process.send_signal(signal.SIGTERM)
    time.sleep(2)
    assert pod.server.process.poll() is None, "exited with finished jobs nobody has collected"
    started = time.monotonic()
    for location in locations:
        job = httpx.get(pod.url + location, headers=headers, timeout=10)
        assert job.status_code == 200 and job.json()["status"] == "succeeded", job.text
    assert pod.server.process.wait(10) == 0
    assert time.monotonic() - started < 10  # not the 30 s drain deadline


def test_identical_requests_on_both_workers_share_one_upstream_call(pod_factory: Any, cn: Server) -> None:
    """Without Redis too: the workers' single-flight (a lock on a byte of a shared file)."""
    pod = pod_factory()
    prompt = f"retried {uuid.uuid4().hex} [emu:latency=1]"
    results: list[Any] = []

    def call() -> None:
        with fresh_client(pod) as client:
            results.append(client.images.generate(model="wan2.7-image", prompt=prompt))

    # 16 connections: all of them hashed to one of the two sockets is one time in 32,768.
    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 16 and len({r.data[0].url for r in results}) == 1
    served = pod.served("/v1/images/generations", 16)
    assert len(served) == 2 and all(n > 0 for n in served.values()), served  # both workers answered
    posts = [r for r in httpx.get(cn.url + "/__emulator__/requests").json() if r["method"] == "POST"]
    assert len(posts) == 1, posts


def test_a_later_identical_request_is_a_new_call(pod_factory: Any, cn: Server) -> None:
    """Single-flight covers requests in flight together: one made after the answer calls again."""
    pod = pod_factory()
    prompt = f"again {uuid.uuid4().hex}"
    for _ in range(4):
        with fresh_client(pod) as client:
            assert client.images.generate(model="wan2.7-image", prompt=prompt).data
    posts = [r for r in httpx.get(cn.url + "/__emulator__/requests").json() if r["method"] == "POST"]
    assert len(posts) == 4


def test_a_configuration_the_workers_refuse_stops_the_pod(tmp_path: Path) -> None:
    """Not respawned for ever: a worker's ConfigError (exit 2) stops the supervisor with 2."""
    config = tmp_path / "bad.yaml"
    # Loads (the supervisor checks that much) but cannot be served: the route's model does not exist.
    broken = "routes:\n  broken:\n    targets: [{provider: dashscope, model: no-such-model}]\n"
    config.write_text(TEST_CONFIG % {"deadline": 30} + broken)
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--workers", "2", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env({"DASHSCOPE_API_KEY": "k", "DASHSCOPE_INTL_API_KEY": "k"}),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "does not offer 'no-such-model'" in result.stderr
    assert "refused the configuration" in result.stdout and "respawning" not in result.stdout
