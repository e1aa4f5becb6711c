"""Circuit breaker, pacing, cache and single-flight: pure state machines and timing."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.engine.breaker import Breaker, BreakerState
from gateway.engine.pacing import Pacer, QueueFull, wait_turn
from gateway.sharing.cache import ResponseCache, SingleFlight, url_expiry
from gateway.state import LocalState

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_breaker_opens_half_opens_and_closes() -> None:
    clock = Clock()
    breaker = Breaker(threshold=3, cooldown=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    assert breaker.retry_in() == 10
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the single probe
    assert not breaker.allow()
    breaker.failure()  # probe failed: open again for a full cool-down
    assert breaker.state is BreakerState.OPEN
    clock.now += 10
    assert breaker.allow()
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow() and breaker.allow()


async def test_breaker_success_resets_the_count() -> None:
    breaker = Breaker(threshold=2, cooldown=10, clock=Clock())
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.state is BreakerState.CLOSED


async def test_rate_turns_spread_sends() -> None:
    state = LocalState()
    started = time.monotonic()
    await asyncio.gather(*(wait_turn(state, "k", 50) for _ in range(6)))
    assert time.monotonic() - started >= 5 / 50 * 0.9
    assert await state.reserve("k", 1 / 50, budget=0.0) is None  # the next slot is in the future


async def test_local_state_slots_and_values() -> None:
    state = LocalState()
    assert await state.acquire("s", 1, "a", lease=10)
    assert not await state.acquire("s", 1, "b", lease=10)
    await state.release("s", "a")
    assert await state.acquire("s", 1, "b", lease=0.01)
    await asyncio.sleep(0.02)
    assert await state.acquire("s", 1, "c", lease=10)  # b's lease ran out
    assert await state.claim("lock", "me", 10) and not await state.claim("lock", "you", 10)
    await state.put("v", b"x", 0.01)
    await asyncio.sleep(0.02)
    assert await state.get("v") is None
    assert await state.admit("r", 2, 60) is None and await state.admit("r", 2, 60) is None
    wait = await state.admit("r", 2, 60)
    assert wait is not None and 0 < wait <= 60


async def test_pacer_limits_concurrency_and_bounds_the_queue() -> None:
    pacer = Pacer(concurrency=1, rps=None, queue_size=1, queue_timeout=5)
    deadline = time.monotonic() + 5
    running = 0
    peak = 0

    async def call() -> None:
        nonlocal running, peak
        async with pacer.slot(deadline):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.05)
            running -= 1

    results = await asyncio.gather(call(), call(), call(), return_exceptions=True)
    assert peak == 1
    full = [r for r in results if isinstance(r, QueueFull)]
    assert len(full) == 1 and full[0].status == 429 and full[0].retry_after


async def test_pacer_wait_past_timeout_is_429() -> None:
    pacer = Pacer(concurrency=1, rps=None, queue_size=10, queue_timeout=0.05)
    deadline = time.monotonic() + 5

    async def hold() -> None:
        async with pacer.slot(deadline):
            await asyncio.sleep(0.3)

    holder = asyncio.ensure_future(hold())
    await asyncio.sleep(0.01)
    with pytest.raises(QueueFull):
        async with pacer.slot(deadline):
            pass
    await holder


async def test_rate_turn_beyond_the_deadline_is_429() -> None:
    pacer = Pacer(concurrency=None, rps=0.5, queue_size=10, queue_timeout=60)
    assert await pacer.send_turn(time.monotonic() + 10) == 0.0
    with pytest.raises(QueueFull):
        await pacer.send_turn(time.monotonic() + 1)  # the next slot is 2 s away


async def test_cache_bounded_in_bytes_with_per_entry_expiry() -> None:
    clock = Clock()
    cache: ResponseCache[str] = ResponseCache(max_bytes=100, ttl=60, clock=clock)
    cache.put("a", "A", size=60)
    cache.put("b", "B", size=60)  # evicts a: the cache holds at most 100 bytes
    assert cache.get("a") is None and cache.get("b") == "B"
    cache.put("c", "C", size=10, valid_for=5)
    clock.now += 6
    assert cache.get("c") is None and cache.get("b") == "B"
    clock.now += 60
    assert cache.get("b") is None
    cache.put("d", "D", size=10, valid_for=-1)  # already expired URLs are never cached
    assert cache.get("d") is None


def test_url_expiry() -> None:
    assert url_expiry("https://x/a.png?Expires=1700000000&Signature=s", 0) == 1700000000
    assert url_expiry("https://x/a.png", 1000.0) == 1000.0 + 24 * 3600


async def test_single_flight_shares_one_call() -> None:
    flights = SingleFlight()
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return 7

    results = await asyncio.gather(*(flights.run("k", work) for _ in range(5)))
    assert calls == 1
    assert [value for value, _ in results] == [7] * 5
    assert sum(joined for _, joined in results) == 4
    assert len(flights) == 0


async def test_single_flight_work_stops_when_every_waiter_leaves() -> None:
    flights = SingleFlight()
    finished = False

    async def work() -> None:
        nonlocal finished
        await asyncio.sleep(1)
        finished = True

    waiter = asyncio.ensure_future(flights.run("k", work))
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.sleep(0.01)
    assert len(flights) == 0 and not finished


async def test_single_flight_goes_on_when_the_first_caller_leaves() -> None:
    flights = SingleFlight()
    runs = 0

    async def work() -> str:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.05)
        return "done"

    leader = asyncio.ensure_future(flights.run("k", work))
    await asyncio.sleep(0.01)
    follower = asyncio.ensure_future(flights.run("k", work))
    await asyncio.sleep(0.01)
    leader.cancel()
    assert await follower == ("done", True)
    assert runs == 1 and len(flights) == 0  # the same upstream call, not a second one


async def test_single_flight_grace_lets_a_retry_join() -> None:
    flights = SingleFlight(grace=0.2)
    runs = 0

    async def work() -> str:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.1)
        return "done"

    first = asyncio.ensure_future(flights.run("k", work))
    await asyncio.sleep(0.01)
    first.cancel()  # the client timed out...
    await asyncio.sleep(0.02)
    assert await flights.run("k", work) == ("done", True)  # ...and its retry joins the same call
    assert runs == 1


async def test_single_flight_shares_errors() -> None:
    flights = SingleFlight()

    async def work() -> None:
        await asyncio.sleep(0.02)
        raise ValueError("upstream said no")

    results = await asyncio.gather(*(flights.run("k", work) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)
