"""Operating the gateway: key status, health and drain, the request log."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import TEST_CONFIG, GatewayFactory, Keys, openai_client
from tests.servers import Server, clean_env, free_port, new_key


def _keys_cli(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "keys.yaml"
    config.write_text(TEST_CONFIG % {"deadline": 30})
    return subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(env),
    )


def test_keys_command(tmp_path: Path, emulators: dict[str, Server]) -> None:
    coding_plan = "sk-sp-" + uuid.uuid4().hex
    result = _keys_cli(
        tmp_path,
        {
            "DASHSCOPE_BASE_URL": emulators["cn"].url,
            "DASHSCOPE_API_KEY": Keys.cn,
            "DASHSCOPE_INTL_BASE_URL": emulators["intl"].url,
            "DASHSCOPE_INTL_API_KEY": coding_plan,
        },
    )
    out = result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert " valid " in rows["dashscope"]
    assert " invalid " in rows["dashscope-intl"] and "sk-sp-" in rows["dashscope-intl"]  # the warning names the kind
    assert Keys.cn[:12] not in out and coding_plan[6:] not in out
    import hashlib

    assert hashlib.sha256(Keys.cn.encode()).hexdigest()[:8] in rows["dashscope"]
    assert result.returncode == 1  # not every key is usable

    unreachable = _keys_cli(
        tmp_path, {"DASHSCOPE_BASE_URL": f"http://127.0.0.1:{free_port()}", "DASHSCOPE_API_KEY": Keys.cn}
    )
    rows = {line.split()[0]: line for line in unreachable.stdout.splitlines()[1:]}
    assert " unreachable " in rows["dashscope"] and "not set" in rows["dashscope-intl"]


def test_admin_keys_endpoint(gateway_factory: GatewayFactory) -> None:
    admin = new_key("adm-")
    gateway = gateway_factory(GATEWAY_ADMIN_KEY=admin)
    assert httpx.get(gateway.url + "/admin/keys").status_code == 401
    body = httpx.get(gateway.url + "/admin/keys", headers={"authorization": f"Bearer {admin}"}).json()
    statuses = {item["provider"]: item for item in body["data"]}
    assert statuses["dashscope"]["status"] == "valid" and statuses["dashscope"]["key"] == "set"
    assert len(statuses["dashscope"]["fingerprint"]) == 8
    assert Keys.cn not in json.dumps(body) and Keys.intl not in json.dumps(body)


def test_health_and_readiness(gateway: Server) -> None:
    assert httpx.get(gateway.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(gateway.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_sigterm_drains_in_flight_requests(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory()
    client = openai_client(gateway)
    results: list[object] = []

    def slow() -> None:
        try:  # an async model: its polling must finish, not be cut off
            results.append(client.images.generate(model="wanx2.1-t2i-turbo", prompt="p [emu:latency=2.5]"))
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            results.append(exc)

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.7)
    gateway.process.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    assert httpx.get(gateway.url + "/readyz").status_code == 503
    rejected = httpx.post(gateway.url + "/v1/images/generations", json={"prompt": "p"})
    assert rejected.status_code == 503 and rejected.json()["error"]["code"] == "service_unavailable"
    assert rejected.headers["retry-after"]
    assert gateway.process.poll() is None  # still finishing the slow request
    worker.join(15)
    assert results and not isinstance(results[0], Exception), results
    assert gateway.process.wait(15) == 0


def test_drain_deadline_bounds_the_wait(gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(extra="drain_seconds: 1\n")
    client = openai_client(gateway)
    outcome: list[BaseException] = []

    def stuck() -> None:
        try:
            client.images.generate(model="wanx2.1-t2i-turbo", prompt="p [emu:stuck]")
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=stuck)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    gateway.process.send_signal(signal.SIGTERM)
    assert gateway.process.wait(15) == 0
    assert time.monotonic() - started < 5
    thread.join(10)
    assert outcome and isinstance(outcome[0], openai.APIError), outcome  # cut off, never a fake success


def _log_lines(server: Server) -> list[dict[str, object]]:
    lines = []
    for line in server.output().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def test_one_json_line_per_request(gateway_factory: GatewayFactory) -> None:
    quiet = gateway_factory()
    secret_prompt = f"my private prompt {uuid.uuid4().hex}"
    response = openai_client(quiet).images.with_raw_response.generate(
        model="wanx2.1-t2i-turbo", prompt=secret_prompt, n=2
    )
    with pytest.raises(openai.NotFoundError):
        openai_client(quiet).images.generate(model="nope", prompt="p")
    time.sleep(0.2)
    lines = [line for line in _log_lines(quiet) if line.get("logger") == "gateway.access"]
    ok = next(line for line in lines if line["request_id"] == response.headers["x-request-id"])
    assert ok["route"] == "/v1/images/generations" and ok["status"] == 200
    assert ok["model"] == "wanx2.1-t2i-turbo" and ok["provider"] == "dashscope" and ok["images"] == 2
    assert isinstance(ok["latency_ms"], float) and isinstance(ok["bytes"], int) and ok["bytes"] > 0
    assert any(line["status"] == 404 for line in lines)
    assert secret_prompt not in quiet.output()

    loud = gateway_factory(extra="log_prompts: true\n")
    openai_client(loud).images.generate(model="qwen-image-max", prompt=secret_prompt)
    time.sleep(0.2)
    assert secret_prompt in loud.output()


def test_drain_keeps_finished_jobs_readable_until_collected(gateway_factory: GatewayFactory) -> None:
    # Without Redis a job's result lives only in this process: exiting before the client
    # has read it would lose an image that was made and billed.
    gateway = gateway_factory(extra="drain_seconds: 30\n")
    headers = {"prefer": "respond-async", "authorization": "Bearer k"}

    def submit(prompt: str) -> str:
        response = httpx.post(
            gateway.url + "/v1/images/generations",
            json={"model": "wanx2.1-t2i-turbo", "prompt": prompt},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        return str(response.headers["location"])

    finished = submit("p [emu:latency=0.2]")
    running = submit("p [emu:latency=2]")
    time.sleep(1.0)  # the first job is done and nobody has read it
    gateway.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    rejected = httpx.post(gateway.url + "/v1/images/generations", json={"prompt": "p"}, headers=headers)
    assert rejected.status_code == 503
    time.sleep(3)  # both jobs have finished upstream by now
    assert gateway.process.poll() is None, "exited with finished jobs nobody has collected"
    for location in (finished, running):
        job = httpx.get(gateway.url + location, headers=headers, timeout=10)
        assert job.status_code == 200 and job.json()["status"] == "succeeded", job.text
    assert gateway.process.wait(10) == 0
