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
    __slots__ = ("expiry", "task", "waiters")

    def __init__(self, task: asyncio.Future[Any]) -> None:
        self.task = task
        self.waiters = 0
        self.expiry: asyncio.TimerHandle | None = None


class SingleFlight:
    """Coalesces identical concurrent calls.

    The work runs detached from any one caller, so a caller that leaves does not
    restart it for the others. When the last caller leaves, the work goes on for
    ``grace`` seconds, long enough for a client that retries after a timeout to
    join it instead of paying for a second upstream call, and is then cancelled.
    """

    def __init__(self, grace: float = 0.0) -> None:
        self.grace = grace
        self._flights: dict[str, _Flight] = {}

    def __len__(self) -> int:
        return len(self._flights)

    async def run(self, key: str, work: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The result, and whether this caller joined a call already under way."""
        flight = self._flights.get(key)
        joined = flight is not None
        if flight is None:
            flight = self._flights[key] = _Flight(asyncio.ensure_future(work()))
            flight.task.add_done_callback(lambda task: self._done(key, flight))
        if flight.expiry is not None:
            flight.expiry.cancel()
            flight.expiry = None
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task), joined
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                if self.grace > 0:
                    flight.expiry = asyncio.get_running_loop().call_later(self.grace, flight.task.cancel)
                else:
                    flight.task.cancel()

    def _done(self, key: str, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if flight.expiry is not None:
            flight.expiry.cancel()
        if not flight.task.cancelled():
            flight.task.exception()  # retrieved: an error nobody waited for is not "never retrieved"
