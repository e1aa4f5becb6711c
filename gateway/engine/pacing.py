"""Upstream pacing: requests wait in a bounded queue for a concurrency slot and a
rate slot instead of collecting 429s from the provider. With shared state in
Redis the limits hold across all replicas together."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from gateway.state import LocalState, SharedState
from providers.errors import RateLimited

__all__ = ["Pacer", "QueueFull", "wait_turn"]

#: How often a request waiting for a slot held by another replica looks again.
SHARED_SLOT_POLL = 0.05


class QueueFull(RateLimited):
    """The gateway's own queue for a target is full or too slow: try elsewhere or later."""


async def wait_turn(state: SharedState, key: str, rate: float, budget: float = float("inf")) -> float | None:
    """Wait for the next of ``rate`` slots per second under ``key``; None (no wait) past ``budget``."""
    delay = await state.reserve(key, 1.0 / rate, budget)
    if delay:
        await asyncio.sleep(delay)
    return delay


class Pacer:
    """Concurrency and rate limits for one target (provider and model)."""

    def __init__(
        self,
        *,
        concurrency: int | None,
        rps: float | None,
        queue_size: int,
        queue_timeout: float,
        state: SharedState | None = None,
        key: str = "",
    ) -> None:
        self.concurrency = concurrency
        self.semaphore = asyncio.Semaphore(concurrency) if concurrency else None
        self.rps = rps
        self.queue_size = queue_size
        self.queue_timeout = queue_timeout
        self.state: SharedState = state or LocalState()
        self.key = key
        self.waiting = 0

    def _full(self, why: str, retry_after: float) -> QueueFull:
        return QueueFull(f"The gateway's queue for this model is {why}; retry later", retry_after=retry_after)

    async def _shared_slot(self, holder: str, lease: float, until: float) -> None:
        assert self.concurrency is not None
        while not await self.state.acquire(self.key, self.concurrency, holder, lease):
            if time.monotonic() >= until:
                raise self._full("too long", self.queue_timeout / 2)
            await asyncio.sleep(SHARED_SLOT_POLL)

    @asynccontextmanager
    async def slot(self, deadline: float) -> AsyncIterator[float]:
        """Hold a concurrency slot for a whole upstream call (a task: submit to result).

        Yields the seconds spent waiting. Raises QueueFull when the queue is full or
        the wait would outlast the queue timeout or the request's deadline.
        """
        if self.semaphore is None:
            yield 0.0
            return
        if self.semaphore.locked() and self.waiting >= self.queue_size:
            raise self._full("full", self.queue_timeout / 2)
        started = time.monotonic()
        until = started + max(0.0, min(self.queue_timeout, deadline - started))
        self.waiting += 1
        try:
            async with asyncio.timeout(until - started):
                await self.semaphore.acquire()
        except TimeoutError:
            raise self._full("too long", self.queue_timeout / 2) from None
        finally:
            self.waiting -= 1
        holder = f"{os.getpid()}-{id(self)}-{time.monotonic_ns()}"
        shared = self.state.distributed
        try:
            if shared:
                # Other replicas hold slots of the same limit; the lease frees ours if we die.
                await self._shared_slot(holder, max(1.0, deadline - time.monotonic()), until)
            yield time.monotonic() - started
        finally:
            self.semaphore.release()
            if shared:
                await self.state.release(self.key, holder)

    async def send_turn(self, deadline: float) -> float:
        """Wait for this target's next rate slot; returns the seconds waited."""
        if not self.rps:
            return 0.0
        budget = min(self.queue_timeout, deadline - time.monotonic())
        delay = await wait_turn(self.state, self.key, self.rps, budget)
        if delay is None:
            raise self._full("too long", min(120.0, self.queue_timeout / 2))
        return delay
