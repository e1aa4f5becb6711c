"""Upstream pacing: requests wait in a bounded queue for a concurrency slot and a
rate slot instead of collecting 429s from the provider."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from providers.errors import RateLimited

__all__ = ["Pacer", "RateSpacer"]


class QueueFull(RateLimited):
    """The gateway's own queue for a target is full or too slow: try elsewhere or later."""


class RateSpacer:
    """Hands out send times at least ``1/rate`` apart (no bursts: DashScope also
    limits how fast the rate may ramp up)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_free = 0.0

    def reserve(self, budget: float = float("inf")) -> float | None:
        """Seconds to wait before sending, the slot taken; None (nothing taken) past ``budget``."""
        now = time.monotonic()
        start = max(now, self.next_free)
        if start - now > budget:
            return None
        self.next_free = start + self.interval
        return start - now

    async def wait(self) -> None:
        delay = self.reserve()
        if delay:
            await asyncio.sleep(delay)


class Pacer:
    """Concurrency and rate limits for one target (provider and model)."""

    def __init__(
        self, *, concurrency: int | None, rps: float | None, queue_size: int, queue_timeout: float
    ) -> None:
        self.semaphore = asyncio.Semaphore(concurrency) if concurrency else None
        self.spacer = RateSpacer(rps) if rps else None
        self.queue_size = queue_size
        self.queue_timeout = queue_timeout
        self.waiting = 0

    def _full(self, why: str, retry_after: float) -> QueueFull:
        return QueueFull(f"The gateway's queue for this model is {why}; retry later", retry_after=retry_after)

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
        budget = min(self.queue_timeout, deadline - started)
        self.waiting += 1
        try:
            async with asyncio.timeout(max(0.0, budget)):
                await self.semaphore.acquire()
        except TimeoutError:
            raise self._full("too long", self.queue_timeout / 2) from None
        finally:
            self.waiting -= 1
        try:
            yield time.monotonic() - started
        finally:
            self.semaphore.release()

    async def send_turn(self, deadline: float) -> float:
        """Wait for this target's next rate slot; returns the seconds waited."""
        if self.spacer is None:
            return 0.0
        budget = min(self.queue_timeout, deadline - time.monotonic())
        delay = self.spacer.reserve(budget)
        if delay is None:
            raise self._full("too long", self.spacer.next_free - time.monotonic())
        if delay > 0:
            await asyncio.sleep(delay)
        return delay
