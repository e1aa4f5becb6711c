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


class _LeaderGone(Exception):
    """The caller running a shared call left before it finished."""


class SingleFlight:
    """Coalesces identical concurrent calls.

    The first caller runs the work in its own task (no extra task on the hot
    path); later callers wait for its result. If the first caller leaves (its
    client disconnected), a waiting caller takes over.
    """

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Future[Any]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    async def run(self, key: str, work: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The result, and whether this caller joined a call already under way."""
        joined = False
        while (flight := self._flights.get(key)) is not None:
            joined = True
            try:
                return await asyncio.shield(flight), joined
            except _LeaderGone:
                continue
        flight = self._flights[key] = asyncio.get_running_loop().create_future()
        try:
            result = await work()
        except asyncio.CancelledError:
            flight.set_exception(_LeaderGone())
            raise
        except BaseException as exc:
            flight.set_exception(exc)
            raise
        else:
            flight.set_result(result)
            return result, joined
        finally:
            # Retrieved here, so an error nobody joined is not reported as "never retrieved".
            flight.exception()
            self._forget(key, flight)

    def _forget(self, key: str, flight: asyncio.Future[Any]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
