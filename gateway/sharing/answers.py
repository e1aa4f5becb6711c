"""Answers shared between requests: the response cache and single-flight, within
this process and, with Redis, across replicas."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec

from gateway.service.routing import Route, Router
from gateway.settings import GatewayConfig
from gateway.sharing.cache import URL_MARGIN, ResponseCache, SingleFlight, url_expiry
from gateway.sharing.records import AnswerRecord, ErrorRecord, RelayedError, error_record
from gateway.state import SharedState
from gateway.wire.images import ImagesResponse
from providers.errors import ApiError, UpstreamTimeout

__all__ = ["AnswerSharing", "Served"]

#: How long another replica's answer to a shared request stays readable, and how
#: often a waiting replica looks for it.
FLIGHT_ANSWER_TTL = 60.0
FLIGHT_POLL = 0.1


@dataclass(frozen=True, slots=True)
class Served:
    response: ImagesResponse
    route: Route
    #: "hit", "miss", "bypass", "shared" (joined an identical request in flight) or None.
    cache: str | None = None
    #: The size asked of the upstream, in its own terms ("1024*1024", "2K"), when known.
    size_sent: str | None = None


class AnswerSharing:
    def __init__(self, config: GatewayConfig, router: Router, state: SharedState, replica: str) -> None:
        self.config = config
        self.router = router
        self.state = state
        self.replica = replica
        self.deadline = config.upstream.deadline_seconds
        self.cache: ResponseCache[Served] = ResponseCache(
            max_bytes=config.cache.max_bytes, ttl=config.cache.ttl_seconds
        )
        self.flights = SingleFlight(config.cache.flight_grace_seconds)

    def _encode(self, served: Served) -> bytes:
        route = served.route
        return msgspec.json.encode(AnswerRecord(served.response, route.target.name, route.model.id, served.size_sent))

    def _decode(self, raw: bytes) -> Served | None:
        record = msgspec.json.decode(raw, type=AnswerRecord)
        route = self.router.route_to(record.provider, record.model)
        return Served(record.response, route, size_sent=record.size_sent) if route else None

    async def cached(self, key: str) -> Served | None:
        local = self.cache.get(key)
        if local is not None or not self.state.distributed:
            return local
        raw = await self.state.get(f"cache/{key}")
        return self._decode(raw) if raw else None

    async def store(self, key: str, served: Served) -> None:
        valid_for = self.config.cache.ttl_seconds
        now = time.time()
        urls = [d.url for d in served.response.data if d.url]
        if urls:  # never past the validity of the image URLs it hands out
            valid_for = min(valid_for, min(url_expiry(url, now) for url in urls) - now - URL_MARGIN)
        raw = self._encode(served)
        self.cache.put(key, served, size=len(raw), valid_for=valid_for)
        if self.state.distributed and valid_for > 0 and len(raw) <= self.config.cache.max_bytes:
            await self.state.put(f"cache/{key}", raw, valid_for)

    async def flight(self, key: str, work: Callable[[], Awaitable[Served]]) -> tuple[Served, bool]:
        """``work``'s answer, shared with identical calls here and on other replicas."""
        return await self.flights.run(key, lambda: self._across_replicas(key, work))

    async def _across_replicas(self, key: str, work: Callable[[], Awaitable[Served]]) -> Served:
        lock = f"flight/{key}"
        until = time.monotonic() + self.deadline
        while self.state.distributed:
            flight_id = f"{self.replica}-{os.urandom(6).hex()}"
            if await self.state.claim(lock, flight_id, self.deadline + 30):
                return await self._lead(lock, f"flight-answer/{flight_id}", work)
            leader = await self.state.get(lock)
            if leader is None:
                continue
            answer = f"flight-answer/{leader.decode()}"
            # The leader writes its answer before it lets go of the lock.
            while (raw := await self.state.get(answer)) is None and await self.state.get(lock) == leader:
                if time.monotonic() > until:
                    raise UpstreamTimeout("Another replica did not finish this request within the deadline")
                await asyncio.sleep(FLIGHT_POLL)
            if raw is not None:
                if raw[:1] == b"E":
                    raise RelayedError(msgspec.json.decode(raw[1:], type=ErrorRecord))
                relayed = self._decode(raw[1:])
                if relayed is not None:
                    return relayed
            # The leader went away without an answer: try to lead.
        return await work()

    async def _lead(self, lock: str, answer: str, work: Callable[[], Awaitable[Served]]) -> Served:
        try:
            served = await work()
        except ApiError as err:
            await self.state.put(answer, b"E" + msgspec.json.encode(error_record(err)), FLIGHT_ANSWER_TTL)
            raise
        else:
            await self.state.put(answer, b"A" + self._encode(served), FLIGHT_ANSWER_TTL)
            return served
        finally:
            await self.state.delete(lock)
