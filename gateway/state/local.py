"""Shared-state operations kept in this process (one replica, or Redis unreachable)."""

from __future__ import annotations

import heapq
import itertools
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
        # Per queue: member -> (due, sequence, payload), and a heap of (due, sequence, member)
        # in which an entry whose sequence no longer matches the member's is stale.
        self._queues: dict[str, dict[str, tuple[float, int, bytes]]] = {}
        self._due: dict[str, list[tuple[float, int, str]]] = {}
        self._sequence = itertools.count()

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

    def _enqueue(self, queue: str, member: str, payload: bytes, due: float) -> None:
        sequence = next(self._sequence)
        self._queues.setdefault(queue, {})[member] = (due, sequence, payload)
        heap = self._due.setdefault(queue, [])
        heapq.heappush(heap, (due, sequence, member))
        if len(heap) > 2 * len(self._queues[queue]) + 64:  # stale entries from replacements: rebuild
            self._due[queue] = [(d, s, m) for m, (d, s, _) in self._queues[queue].items()]
            heapq.heapify(self._due[queue])

    async def schedule(self, queue: str, member: str, payload: bytes, delay: float, limit: int) -> bool:
        members = self._queues.get(queue, {})
        if member not in members and len(members) >= limit:
            return False
        self._enqueue(queue, member, payload, time.monotonic() + delay)
        return True

    async def take_due(self, queue: str, limit: int, lease: float) -> list[tuple[str, bytes]]:
        now = time.monotonic()
        heap, members = self._due.get(queue, []), self._queues.get(queue, {})
        taken: list[tuple[str, bytes]] = []
        while heap and heap[0][0] <= now and len(taken) < limit:
            _, sequence, member = heapq.heappop(heap)
            entry = members.get(member)
            if entry is None or entry[1] != sequence:
                continue  # replaced or done since
            taken.append((member, entry[2]))
        for member, payload in taken:
            self._enqueue(queue, member, payload, now + lease)
        return taken

    async def done(self, queue: str, member: str) -> None:
        self._queues.get(queue, {}).pop(member, None)

    def health(self) -> dict[str, object]:
        return {"shared_state": "local"}
