"""The shared-state queue webhooks use: schedule, lease the due ones, take them off.

Run against LocalState, SqliteState (the workers' state without Redis) and a real
redis-server (when installed): all must agree.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.observability.metrics import Metrics
from gateway.state import LocalState, RedisState, SharedState, SqliteState
from tests.servers import start_redis


@pytest.fixture(params=["local", "sqlite", "redis"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SharedState]:
    if request.param == "local":
        yield LocalState()
        return
    if request.param == "sqlite":
        sqlite = SqliteState(tmp_path / "state.db")
        yield sqlite
        sqlite.close()
        return
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make test installs it)")
    server = start_redis()
    try:
        yield RedisState(server.url, Metrics())
    finally:
        server.stop()


def run(state: SharedState, scenario: Coroutine[Any, Any, None]) -> None:
    async def main() -> None:
        try:
            await scenario
        finally:
            if isinstance(state, RedisState):
                await state.aclose()

    asyncio.run(main())


def test_due_members_are_leased_once(state: SharedState) -> None:
    async def scenario() -> None:
        assert await state.schedule("q", "a", b"A", 0, 10)
        assert await state.schedule("q", "b", b"B", 30, 10)
        assert sorted(await state.take_due("q", 10, 0.3)) == [("a", b"A")]
        assert await state.take_due("q", 10, 0.3) == []  # leased: nobody else takes it
        await asyncio.sleep(0.4)
        assert await state.take_due("q", 10, 5) == [("a", b"A")]  # the lease ran out: due again
        await state.done("q", "a")
        await asyncio.sleep(0.05)
        assert await state.take_due("q", 10, 5) == []

    run(state, scenario())


def test_rescheduling_replaces_payload_and_due_time(state: SharedState) -> None:
    async def scenario() -> None:
        await state.schedule("q", "a", b"first", 0, 10)
        assert await state.take_due("q", 10, 30) == [("a", b"first")]
        await state.schedule("q", "a", b"second", 0.2, 10)  # a retry, from a lease
        assert await state.take_due("q", 10, 30) == []
        await asyncio.sleep(0.3)
        assert await state.take_due("q", 10, 30) == [("a", b"second")]

    run(state, scenario())


def test_limit_bounds_members_and_batch(state: SharedState) -> None:
    async def scenario() -> None:
        for i in range(3):
            assert await state.schedule("q", f"m{i}", b"x", 0, 3)
        assert not await state.schedule("q", "m3", b"x", 0, 3)  # full
        assert await state.schedule("q", "m0", b"y", 0, 3)  # replacing one is not growing
        first = await state.take_due("q", 2, 30)
        rest = await state.take_due("q", 2, 30)
        assert len(first) == 2 and len(rest) == 1
        assert {m for m, _ in first + rest} == {"m0", "m1", "m2"}
        assert await state.schedule("other", "m0", b"z", 0, 1)  # queues are separate

    run(state, scenario())


def test_local_queue_stays_small_under_rescheduling() -> None:
    state = LocalState()

    async def scenario() -> None:
        for i in range(5000):
            await state.schedule("q", "a", str(i).encode(), 0, 10)
        assert len(state._due["q"]) < 200
        assert await state.take_due("q", 10, 30) == [("a", b"4999")]

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 5
