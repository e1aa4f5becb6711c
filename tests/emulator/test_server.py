"""Against a real uvicorn server on a loopback port: client disconnects and load."""

from __future__ import annotations

import asyncio
import resource
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import httpx
import pytest
import uvicorn

from providers.dashscope.emulator import EmulatorConfig, create_app

from .conftest import ASYNC, AUTH, MM, T2I, mm_body, t2i_body


@dataclass
class Running:
    base: str
    server: uvicorn.Server


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    config = uvicorn.Config(
        create_app(EmulatorConfig(record_requests=False)),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        backlog=4096,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "emulator did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Running(f"http://127.0.0.1:{port}", server)
    server.should_exit = True
    thread.join(timeout=10)


def _in_flight(server: uvicorn.Server) -> int:
    return len(server.server_state.tasks)


def test_result_urls_use_the_servers_own_port(running: Running) -> None:
    response = httpx.post(running.base + MM, json=mm_body("qwen-image-max", "cat"), headers=AUTH)
    url = response.json()["output"]["choices"][0]["message"]["content"][0]["image"]
    assert url.startswith(running.base + "/results/")
    image = httpx.get(url)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"


def _abandoned_call_is_dropped(running: Running, body: dict[str, object], headers: dict[str, str]) -> None:
    """The call hangs while the client waits, and the server lets go of it once the client leaves."""

    def call() -> None:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(running.base + MM, json=body, headers=headers, timeout=1.0)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.5)
    assert _in_flight(running.server) == 1
    caller.join()
    deadline = time.monotonic() + 5
    while _in_flight(running.server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _in_flight(running.server) == 0


def test_stuck_sync_call_ends_when_the_client_goes_away(running: Running) -> None:
    _abandoned_call_is_dropped(running, mm_body("qwen-image-max", "x [emu:stuck]"), AUTH)


def test_stuck_sse_call_ends_when_the_client_goes_away(running: Running) -> None:
    body = mm_body("wan2.7-image", "x [emu:stuck]", n=1)
    _abandoned_call_is_dropped(running, body, {**AUTH, "X-DashScope-SSE": "enable"})


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"needs {needed} file descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_a_thousand_concurrent_slow_sync_calls(running: Running) -> None:
    _raise_fd_limit(4096)

    async def main() -> list[int]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(i: int) -> int:
                body = mm_body("qwen-image-max", f"load {i} [emu:latency=1.5]")
                async with session.post(running.base + MM, json=body, headers=AUTH) as response:
                    await response.read()
                    return response.status

            return await asyncio.gather(*(one(i) for i in range(1000)))

    started = time.monotonic()
    statuses = asyncio.run(main())
    elapsed = time.monotonic() - started
    assert statuses == [200] * 1000
    assert elapsed < 10, f"1,000 concurrent 1.5 s calls took {elapsed:.1f} s"


def test_two_thousand_tasks(running: Running) -> None:
    async def main() -> tuple[list[str], list[str]]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

            async def submit(i: int) -> str:
                body = t2i_body("wanx2.1-t2i-turbo", f"task {i} [emu:latency=0.5]", n=1)
                async with session.post(running.base + T2I, json=body, headers=ASYNC) as response:
                    assert response.status == 200
                    return str((await response.json())["output"]["task_id"])

            async def status(task_id: str) -> str:
                async with session.get(f"{running.base}/api/v1/tasks/{task_id}", headers=AUTH) as response:
                    return str((await response.json())["output"]["task_status"])

            ids = await asyncio.gather(*(submit(i) for i in range(2000)))
            await asyncio.sleep(0.6)
            return ids, await asyncio.gather(*(status(t) for t in ids))

    started = time.monotonic()
    ids, statuses = asyncio.run(main())
    assert len(set(ids)) == 2000
    assert statuses == ["SUCCEEDED"] * 2000
    assert time.monotonic() - started < 15
