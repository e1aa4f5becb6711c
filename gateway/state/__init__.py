"""State several replicas share: rate windows, pacing, cache, single-flight, jobs.

:class:`LocalState` keeps it in this process; :class:`RedisState` keeps it in
Redis and falls back to local state whenever Redis cannot be reached, so no
request ever fails because of Redis. :class:`SqliteState` is what the workers of
one ``serve --workers N`` share without Redis (and Redis's fallback with them).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from gateway.observability.metrics import Metrics
from gateway.state.base import SharedState
from gateway.state.flights import FlightLocks
from gateway.state.local import LocalState
from gateway.state.sqlite_state import SqliteState

if TYPE_CHECKING:
    from gateway.state.redis_state import RedisState

__all__ = [
    "WORKER_STATE_ENV",
    "LocalState",
    "RedisState",
    "SharedState",
    "SqliteState",
    "build_state",
    "close_state",
    "pod_flights",
    "pod_local",
]

#: Set by the ``serve --workers N`` supervisor for its workers: the SQLite file they share.
WORKER_STATE_ENV = "GATEWAY_WORKER_STATE"


def __getattr__(name: str) -> Any:
    # The Redis client is 8 MiB of memory and a tenth of a second of start: only when configured.
    if name == "RedisState":
        from gateway.state.redis_state import RedisState

        return RedisState
    raise AttributeError(name)


def _redis(state: SharedState) -> RedisState | None:
    """``state`` as a RedisState (never one unless the module was imported for redis_url)."""
    module = sys.modules.get("gateway.state.redis_state")
    return state if module is not None and isinstance(state, module.RedisState) else None


def build_state(redis_url: str | None, metrics: Metrics) -> SharedState:
    """Redis when configured; else the pod's SqliteState under a supervisor; else this process's."""
    path = os.environ.get(WORKER_STATE_ENV)
    pod: SharedState | None = SqliteState(path) if path else None
    if redis_url:
        from gateway.state.redis_state import RedisState

        return RedisState(redis_url, metrics, local=pod)
    return pod if pod is not None else LocalState()


async def close_state(state: SharedState) -> None:
    """Release what the state holds (connections, its thread)."""
    redis = _redis(state)
    if redis is not None:
        if isinstance(redis.local, SqliteState):
            await redis.local.aclose()
        await redis.aclose()
    elif isinstance(state, SqliteState):
        await state.aclose()


def pod_local(state: SharedState) -> bool:
    """Whether ``state`` is shared by this pod's workers only, and gone with the pod (SqliteState):
    results held there are lost at shutdown like a single process's, so drains wait for them."""
    return isinstance(state, SqliteState)


def pod_flights(state: SharedState) -> FlightLocks | None:
    """The pod's single-flight locks when the workers share no Redis (or it is unreachable)."""
    if isinstance(state, SqliteState):
        return state.flights
    redis = _redis(state)
    if redis is not None and isinstance(redis.local, SqliteState) and not redis.distributed:
        return redis.local.flights
    return None
