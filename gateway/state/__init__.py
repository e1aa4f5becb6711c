"""State several replicas share: rate windows, pacing, cache, single-flight, jobs.

:class:`LocalState` keeps it in this process; :class:`RedisState` keeps it in
Redis and falls back to a LocalState whenever Redis cannot be reached, so no
request ever fails because of Redis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.state.base import SharedState
from gateway.state.local import LocalState

if TYPE_CHECKING:
    from gateway.state.redis_state import RedisState

__all__ = ["LocalState", "RedisState", "SharedState"]


def __getattr__(name: str) -> Any:
    # The Redis client is 8 MiB of memory and a tenth of a second of start: only when configured.
    if name == "RedisState":
        from gateway.state.redis_state import RedisState

        return RedisState
    raise AttributeError(name)
