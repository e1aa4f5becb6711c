"""Shared state in Redis, falling back to local state while Redis is unreachable.

Times come from Redis's own clock inside the scripts, so replicas with skewed
clocks still agree. A failed Redis call marks Redis down for a few seconds
(metric and /readyz say so) and the operation is answered locally instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.observability.metrics import Metrics
from gateway.state.base import SharedState
from gateway.state.local import LocalState

__all__ = ["RedisState"]

log = logging.getLogger(__name__)
T = TypeVar("T")
#: After a failure, Redis is left alone this long before it is tried again.
RETRY_AFTER_FAILURE = 5.0
#: Redis on the request path must answer fast or not at all...
SOCKET_TIMEOUT = 0.5
#: ...except for values (cached answers, job records with base64 images), which can be
#: tens of megabytes: they get their own connections with room to move them.
BULK_SOCKET_TIMEOUT = 15.0

_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"
_ADMIT = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
  return '-1'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + tonumber(ARGV[2]) - now)
"""
)
_RESERVE = (
    _NOW
    + """
local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
if start - now > tonumber(ARGV[2]) then return '-1' end
local nxt = start + tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(nxt), 'PX', math.ceil((nxt - now) * 1000) + 1000)
return tostring(start - now)
"""
)
_ACQUIRE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000) + 1000)
return 1
"""
)

#: A queue's keys outlive their last change by this long (members are normally taken off by then).
_QUEUE_TTL_MS = 2 * 86_400_000
_SCHEDULE = (
    _NOW
    + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
"""
)
_TAKE_DUE = (
    _NOW
    + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, member in ipairs(due) do
  local payload = redis.call('HGET', KEYS[2], member)
  if payload then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), member)
    table.insert(out, member)
    table.insert(out, payload)
  else
    redis.call('ZREM', KEYS[1], member)
  end
end
return out
"""
)
_DONE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""


class RedisState:
    def __init__(
        self, url: str, metrics: Metrics, *, prefix: str = "image-gateway:", local: SharedState | None = None
    ) -> None:
        self.redis: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT, retry_on_timeout=False
        )
        self.bulk: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=BULK_SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT, retry_on_timeout=False
        )
        self.metrics = metrics
        self.prefix = prefix
        #: What answers while Redis is unreachable: this process's own state, or the pod's
        #: SqliteState when several workers run (so a pod never has N times the limits).
        self.local: SharedState = local if local is not None else LocalState()
        self.down_until = 0.0
        self.last_error: str | None = None
        self._admit = self.redis.register_script(_ADMIT)
        self._reserve = self.redis.register_script(_RESERVE)
        self._acquire = self.redis.register_script(_ACQUIRE)
        # Queue payloads can be large (a job's answer with base64 images): the bulk connections.
        self._schedule = self.bulk.register_script(_SCHEDULE)
        self._take_due = self.bulk.register_script(_TAKE_DUE)
        self._done = self.bulk.register_script(_DONE)
        self._counter = 0
        metrics.shared_state.set(1)

    @property
    def distributed(self) -> bool:
        return time.monotonic() >= self.down_until

    def _key(self, key: str) -> str:
        return self.prefix + key

    async def _try(self, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]) -> T:
        if not self.distributed:
            return await local()
        try:
            result = await remote()
        except (RedisError, OSError) as exc:
            self.down_until = time.monotonic() + RETRY_AFTER_FAILURE
            if self.last_error is None:
                log.warning("shared state (Redis) unreachable, serving on local state: %s", type(exc).__name__)
            self.last_error = type(exc).__name__
            self.metrics.shared_state.set(0)
            return await local()
        if self.last_error is not None:
            log.info("shared state (Redis) reachable again")
            self.last_error = None
            self.metrics.shared_state.set(1)
        return result

    def _member(self) -> str:
        self._counter += 1
        return f"{id(self)}-{self._counter}-{time.monotonic_ns()}"

    async def admit(self, key: str, limit: int, window: float) -> float | None:
        async def remote() -> float | None:
            wait = float(await self._admit(keys=[self._key("rate:" + key)], args=[limit, window, self._member()]))
            return None if wait < 0 else wait

        return await self._try(remote, lambda: self.local.admit(key, limit, window))

    async def reserve(self, key: str, interval: float, budget: float) -> float | None:
        async def remote() -> float | None:
            budget_arg = min(budget, 1e9)
            wait = float(await self._reserve(keys=[self._key("pace:" + key)], args=[interval, budget_arg]))
            return None if wait < 0 else wait

        return await self._try(remote, lambda: self.local.reserve(key, interval, budget))

    async def acquire(self, key: str, limit: int, holder: str, lease: float) -> bool:
        async def remote() -> bool:
            return bool(await self._acquire(keys=[self._key("slots:" + key)], args=[limit, holder, lease]))

        return await self._try(remote, lambda: self.local.acquire(key, limit, holder, lease))

    async def release(self, key: str, holder: str) -> None:
        async def remote() -> None:
            await self.redis.zrem(self._key("slots:" + key), holder)

        await self._try(remote, lambda: self.local.release(key, holder))

    async def get(self, key: str) -> bytes | None:
        async def remote() -> bytes | None:
            value: Any = await self.bulk.get(self._key(key))
            return bytes(value) if value is not None else None

        return await self._try(remote, lambda: self.local.get(key))

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        async def remote() -> None:
            await self.bulk.set(self._key(key), value, px=max(1, int(ttl * 1000)))

        await self._try(remote, lambda: self.local.put(key, value, ttl))

    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        async def remote() -> bool:
            return bool(await self.redis.set(self._key(key), owner, px=max(1, int(ttl * 1000)), nx=True))

        return await self._try(remote, lambda: self.local.claim(key, owner, ttl))

    async def delete(self, key: str) -> None:
        async def remote() -> None:
            await self.redis.delete(self._key(key))

        await self._try(remote, lambda: self.local.delete(key))

    def _queue_keys(self, queue: str) -> list[str]:
        base = self._key("queue:" + queue)
        return [base, base + ":payloads"]

    async def schedule(self, queue: str, member: str, payload: bytes, delay: float, limit: int) -> bool:
        async def remote() -> bool:
            args: list[bytes | str | float] = [member, payload, max(0.0, delay), limit, _QUEUE_TTL_MS]
            return bool(await self._schedule(keys=self._queue_keys(queue), args=args))

        return await self._try(remote, lambda: self.local.schedule(queue, member, payload, delay, limit))

    async def take_due(self, queue: str, limit: int, lease: float) -> list[tuple[str, bytes]]:
        async def remote() -> list[tuple[str, bytes]]:
            flat: list[Any] = await self._take_due(keys=self._queue_keys(queue), args=[limit, lease])
            return [(bytes(flat[i]).decode(), bytes(flat[i + 1])) for i in range(0, len(flat), 2)]

        taken = await self._try(remote, lambda: self.local.take_due(queue, limit, lease))
        if self.distributed and len(taken) < limit:
            # Queued here while Redis was unreachable: sent from here, retried through Redis.
            taken += await self.local.take_due(queue, limit - len(taken), lease)
        return taken

    async def done(self, queue: str, member: str) -> None:
        async def remote() -> None:
            await self._done(keys=self._queue_keys(queue), args=[member])

        await self._try(remote, lambda: self.local.done(queue, member))
        await self.local.done(queue, member)

    def health(self) -> dict[str, object]:
        if self.distributed:
            return {"shared_state": "redis"}
        return {
            "shared_state": "local (redis unreachable; per-replica limits, cache and jobs)",
            "redis_error": self.last_error,
        }

    async def aclose(self) -> None:
        await self.redis.aclose()
        await self.bulk.aclose()
