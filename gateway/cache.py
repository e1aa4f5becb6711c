"""The response cache (seeded requests) and single-flight (identical requests in flight).

A request with an explicit ``seed`` is deterministic, so its answer can be served
again while it is fresh, and while its image URLs are still valid. Identical
requests at the same moment share one upstream call: a client that retries after
a timeout is not billed twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

import msgspec
from cachetools import TLRUCache

__all__ = ["ResponseCache", "SingleFlight", "request_fingerprint", "url_expiry"]

T = TypeVar("T")
#: DashScope's documented validity for result URLs without an Expires parameter.
URL_VALIDITY = 24 * 3600.0
#: A cached URL must stay valid long enough for the client to fetch it.
URL_MARGIN = 600.0


def request_fingerprint(*parts: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(parts, order="deterministic")).hexdigest()


def url_expiry(url: str, now_wall: float) -> float:
    """Unix time a result URL stops working (its signed ``Expires``, or 24 h)."""
    values = parse_qs(urlsplit(url).query).get("Expires")
    try:
        return float(values[0]) if values else now_wall + URL_VALIDITY
    except ValueError:
        return now_wall + URL_VALIDITY


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    value: T
    size: int
    expires: float


class ResponseCache(Generic[T]):
    """A TTL cache bounded in bytes; each entry may expire sooner than the TTL."""

    def __init__(self, *, max_bytes: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._cache: TLRUCache[str, _Entry[T]] = TLRUCache(
            maxsize=max_bytes, ttu=lambda _k, entry, _now: entry.expires, timer=clock, getsizeof=lambda e: e.size
        )

    def get(self, key: str) -> T | None:
        entry = self._cache.get(key)
        return entry.value if entry is not None else None

    def put(self, key: str, value: T, *, size: int, valid_for: float | None = None) -> None:
        lifetime = self.ttl if valid_for is None else min(self.ttl, valid_for)
        if lifetime <= 0 or size > self._cache.maxsize:
            return
        self._cache[key] = _Entry(value, size, self.clock() + lifetime)

    def __len__(self) -> int:
        return len(self._cache)


class _Flight:
    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Future[Any]) -> None:
        self.task = task
        self.waiters = 0


class SingleFlight:
    """Coalesces identical concurrent calls; the work stops when its last waiter leaves."""

    def __init__(self) -> None:
        self._flights: dict[str, _Flight] = {}

    def __len__(self) -> int:
        return len(self._flights)

    async def run(self, key: str, work: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The result, and whether this caller joined a call already under way."""
        flight = self._flights.get(key)
        joined = flight is not None
        if flight is None:
            flight = self._flights[key] = _Flight(asyncio.ensure_future(work()))
            flight.task.add_done_callback(lambda _: self._forget(key, flight))
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task), joined
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                flight.task.cancel()

    def _forget(self, key: str, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
