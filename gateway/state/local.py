"""Shared-state operations kept in this process (one replica, or Redis unreachable)."""

from __future__ import annotations

import time
from collections import deque

__all__ = ["LocalState"]


class LocalState:
    distributed = False

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._next_free: dict[str, float] = {}
        self._slots: dict[str, dict[str, float]] = {}
        self._values: dict[str, tuple[bytes, float]] = {}

    async def admit(self, key: str, limit: int, window: float) -> float | None:
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return hits[0] + window - now
        hits.append(now)
        return None

    async def reserve(self, key: str, interval: float, budget: float) -> float | None:
        now = time.monotonic()
        start = max(now, self._next_free.get(key, 0.0))
        if start - now > budget:
            return None
        self._next_free[key] = start + interval
        return start - now

    async def acquire(self, key: str, limit: int, holder: str, lease: float) -> bool:
        now = time.monotonic()
        slots = {h: until for h, until in self._slots.get(key, {}).items() if until > now}
        self._slots[key] = slots
        if len(slots) >= limit:
            return False
        slots[holder] = now + lease
        return True

    async def release(self, key: str, holder: str) -> None:
        self._slots.get(key, {}).pop(holder, None)

    def _live(self, key: str) -> bytes | None:
        item = self._values.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            del self._values[key]
            return None
        return item[0]

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        if len(self._values) > 100_000:  # expired entries are dropped lazily; bound the leftovers
            now = time.monotonic()
            self._values = {k: v for k, v in self._values.items() if v[1] > now}
        self._values[key] = (value, time.monotonic() + ttl)

    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        await self.put(key, owner.encode(), ttl)
        return True

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    def health(self) -> dict[str, object]:
        return {"shared_state": "local"}
