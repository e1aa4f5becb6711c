"""SqliteState: what the workers of one pod share without Redis, exact across processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.state import LocalState, RedisState, SqliteState, build_state
from gateway.state.sqlite_state import SWEEP_SECONDS


def _admit_many(path: str, key: str, tries: int, out: multiprocessing.Queue[int]) -> None:
    async def main() -> int:
        state = SqliteState(path)
        admitted = sum([await state.admit(key, 50, 60.0) is None for _ in range(tries)])
        state.close()
        return admitted

    out.put(asyncio.run(main()))


def _claim(path: str, key: str, out: multiprocessing.Queue[int]) -> None:
    async def main() -> int:
        state = SqliteState(path)
        won = await state.claim(key, "me", 30)
        state.close()
        return int(won)

    out.put(asyncio.run(main()))


def test_admit_is_exact_across_processes(tmp_path: Path) -> None:
    """Four fresh interpreters race for a limit of 50: exactly 50 are admitted in all."""
    path = str(tmp_path / "state.db")
    spawn = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[int] = spawn.Queue()
    processes = [spawn.Process(target=_admit_many, args=(path, "key/a", 40, out)) for _ in range(4)]
    for process in processes:
        process.start()
    admitted = [out.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(30)
    assert sum(admitted) == 50, admitted


def test_one_claim_wins_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    spawn = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[int] = spawn.Queue()
    processes = [spawn.Process(target=_claim, args=(path, "flight/x", out)) for _ in range(4)]
    for process in processes:
        process.start()
    wins = [out.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(30)
    assert sum(wins) == 1, wins


def test_operations_agree_with_local_state(tmp_path: Path) -> None:
    async def scenario() -> None:
        a, b = SqliteState(tmp_path / "s.db"), SqliteState(tmp_path / "s.db")  # two workers
        # admit: a sliding window, the wait until the oldest hit leaves it
        assert await a.admit("k", 2, 0.3) is None and await b.admit("k", 2, 0.3) is None
        wait = await a.admit("k", 2, 0.3)
        assert wait is not None and 0 < wait <= 0.3
        await asyncio.sleep(wait + 0.01)
        assert await b.admit("k", 2, 0.3) is None
        # reserve: slots an interval apart; none past the budget
        assert await a.reserve("p", 0.2, 10) == 0
        second = await b.reserve("p", 0.2, 10)
        assert second is not None and 0.15 < second <= 0.2
        assert await a.reserve("p", 0.2, 0.1) is None
        # acquire/release: a limit of 1 slot across both, freed by release or by its lease
        assert await a.acquire("s", 1, "h1", 0.2) and not await b.acquire("s", 1, "h2", 10)
        await a.release("s", "h1")
        assert await b.acquire("s", 1, "h2", 0.2)
        await asyncio.sleep(0.25)
        assert await a.acquire("s", 1, "h3", 10)
        # get/put with a TTL, claim, delete
        await a.put("v", b"value", 0.2)
        assert await b.get("v") == b"value"
        assert not await b.claim("v", "other", 10)
        await asyncio.sleep(0.25)
        assert await b.get("v") is None
        assert await b.claim("v", "other", 10) and await a.get("v") == b"other"
        await a.delete("v")
        assert await b.get("v") is None
        a.close()
        b.close()

    asyncio.run(scenario())


def test_expired_rows_are_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        state = SqliteState(tmp_path / "s.db")
        for i in range(200):
            await state.put(f"k{i}", b"x" * 100, 0.01)
            await state.admit(f"r{i}", 5, 0.01)
        await asyncio.sleep(0.05)
        state.next_sweep = time.monotonic()  # as SWEEP_SECONDS later
        await state.get("anything")
        rows = {t: state.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("kv", "hits")}
        assert rows == {"kv": 0, "hits": 0}
        assert state.next_sweep > time.monotonic() + SWEEP_SECONDS / 2
        state.close()

    asyncio.run(scenario())


def test_a_held_write_lock_is_waited_for_without_stopping_the_loop(tmp_path: Path) -> None:
    """Another worker holding the write lock: the operation sleeps in asyncio, the loop runs on."""
    path = tmp_path / "s.db"

    async def scenario() -> None:
        state = SqliteState(path)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        admit = asyncio.create_task(state.admit("k", 1, 60))
        await asyncio.sleep(0.2)
        assert not admit.done() and ticks >= 20  # waiting, and the loop kept ticking
        other.execute("COMMIT")
        assert await asyncio.wait_for(admit, 2) is None
        assert state.waits > 0
        task.cancel()
        other.close()
        state.close()

    asyncio.run(scenario())


def test_build_state_picks_the_workers_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.observability.metrics import Metrics

    monkeypatch.delenv("GATEWAY_WORKER_STATE", raising=False)
    assert isinstance(build_state(None, Metrics()), LocalState)
    monkeypatch.setenv("GATEWAY_WORKER_STATE", str(tmp_path / "state.db"))
    state = build_state(None, Metrics())
    assert isinstance(state, SqliteState)
    state.close()
    # With Redis, a worker that cannot reach it falls back on the pod's state, not its own.
    redis = build_state("redis://127.0.0.1:1/0", Metrics())
    assert isinstance(redis, RedisState) and isinstance(redis.local, SqliteState)
    redis.local.close()


def _hold(path: str, start: int, ready: Any, release: Any) -> None:
    from gateway.state.flights import FlightLocks

    locks = FlightLocks(path)
    assert locks.try_lock(start)
    ready.set()
    release.wait(30)


def test_flight_locks_across_processes(tmp_path: Path) -> None:
    """Leading is exclusive between processes, waiting is shared, and a dead leader lets go."""
    from gateway.state.flights import FlightLocks

    path = str(tmp_path / "state.db.flights")
    lead, wait = FlightLocks.slots("client:fingerprint")
    assert lead != wait and FlightLocks.slots("client:fingerprint") == (lead, wait)
    spawn = multiprocessing.get_context("spawn")
    ready, release = spawn.Event(), spawn.Event()
    other = spawn.Process(target=_hold, args=(path, lead, ready, release))
    other.start()
    assert ready.wait(30)
    here = FlightLocks(path)
    assert not here.try_lock(lead)  # the other process leads
    assert here.holder(lead) == other.pid
    assert here.try_lock(wait, shared=True)  # waiting does not need the leader's leave
    here.unlock(wait)
    other.kill()  # a worker dying mid-flight: the kernel lets go of its lock
    other.join(10)
    deadline = time.monotonic() + 5
    while here.holder(lead) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert here.holder(lead) is None and here.try_lock(lead)
    here.unlock(lead)
    here.close()
