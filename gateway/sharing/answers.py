"""Answers shared between requests: the response cache and single-flight, within
this process and, with Redis, across replicas (or, without it, across the workers of one
``serve --workers N`` pod)."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec

from gateway.service.routing import Route, Router
from gateway.settings import GatewayConfig
from gateway.sharing.cache import URL_MARGIN, ResponseCache, SingleFlight, url_expiry
from gateway.sharing.records import AnswerRecord, ErrorRecord, RelayedError, error_record
from gateway.state import SharedState, pod_flights
from gateway.state.flights import FlightLocks
from gateway.wire.images import ImagesResponse
from providers.errors import ApiError, UpstreamTimeout

__all__ = ["AnswerSharing", "Served"]

#: How long another replica's answer to a shared request stays readable, and how
#: often a waiting replica looks for it.
FLIGHT_ANSWER_TTL = 60.0
FLIGHT_POLL = 0.1
#: How soon a worker that found the leader finishing (with nobody waiting) tries to lead.
HANDOVER_POLL = 0.002


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
        #: Answers this worker handed to other workers, until their TTL ends (see _lead_workers).
        self.handed: dict[str, float] = {}

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

    def _answer_bytes(self, served: Served) -> bytes:
        return b"A" + self._encode(served)

    @staticmethod
    def _error_bytes(record: ErrorRecord) -> bytes:
        return b"E" + msgspec.json.encode(record)

    def _relayed(self, raw: bytes) -> Served | None:
        if raw[:1] == b"E":
            raise RelayedError(msgspec.json.decode(raw[1:], type=ErrorRecord))
        return self._decode(raw[1:])

    async def _across_replicas(self, key: str, work: Callable[[], Awaitable[Served]]) -> Served:
        locks = pod_flights(self.state)
        if locks is not None:
            return await self._across_workers(locks, key, work)
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
                relayed = self._relayed(raw)
                if relayed is not None:
                    return relayed
            # The leader went away without an answer: try to lead.
        return await work()

    async def _across_workers(self, locks: FlightLocks, key: str, work: Callable[[], Awaitable[Served]]) -> Served:
        """Single-flight between the workers of one pod, without Redis.

        The leader holds ``lead`` exclusively; a worker that finds it taken holds ``wait``
        (shared) while it waits, and reads the answer once ``lead`` is let go. The leader
        writes its answer to the pod's state only if, when done, it cannot take ``wait``
        exclusively (someone waits), and keeps ``wait`` from then until it has let go of
        ``lead``: so a worker either is seen waiting (and gets the answer) or finds the flight
        over and leads its own. A request no other worker makes costs no write at all.
        """
        lead, wait = locks.slots(key)
        until = time.monotonic() + self.deadline
        while True:
            if time.monotonic() > until:
                raise UpstreamTimeout("Another worker did not finish this request within the deadline")
            if locks.try_lock(lead):
                return await self._lead_workers(locks, lead, wait, key, work)
            leader = locks.holder(lead)
            if leader is None:
                continue  # let go of just now: try to lead
            if not locks.try_lock(wait, shared=True):
                await asyncio.sleep(HANDOVER_POLL)  # the leader is finishing and nobody waited
                continue
            try:
                if locks.holder(lead) != leader:
                    continue  # over before this worker was waiting: it may have written no answer
                while locks.holder(lead) == leader:
                    if time.monotonic() > until:
                        raise UpstreamTimeout("Another worker did not finish this request within the deadline")
                    await asyncio.sleep(FLIGHT_POLL)
                raw = await self.state.get(f"flight-answer/{key}/{leader}")
            finally:
                locks.unlock(wait)
            if raw is not None:
                relayed = self._relayed(raw)
                if relayed is not None:
                    return relayed
            # The leader died or gave up without an answer: try to lead.

    async def _lead_workers(
        self, locks: FlightLocks, lead: int, wait: int, key: str, work: Callable[[], Awaitable[Served]]
    ) -> Served:
        answer = f"flight-answer/{key}/{locks.pid}"
        if self.handed.pop(answer, 0.0) > time.monotonic():
            # An earlier flight's answer, still readable: a waiter must never take it for this one's.
            await self.state.delete(answer)
        payload: Callable[[], bytes] | None = None  # encoded only if someone waits
        try:
            served = await work()
            payload = functools.partial(self._answer_bytes, served)
            return served
        except ApiError as err:
            payload = functools.partial(self._error_bytes, error_record(err))
            raise
        finally:
            alone = locks.try_lock(wait)  # exclusive: fails while another worker waits
            try:
                if not alone and payload is not None:
                    await self.state.put(answer, payload(), FLIGHT_ANSWER_TTL)
                    now = time.monotonic()
                    if len(self.handed) > 10_000:
                        self.handed = {k: until for k, until in self.handed.items() if until > now}
                    self.handed[answer] = now + FLIGHT_ANSWER_TTL
            finally:
                locks.unlock(lead)
                if alone:
                    locks.unlock(wait)

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
