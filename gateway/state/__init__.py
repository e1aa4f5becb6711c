"""State several replicas share: rate windows, pacing, cache, single-flight, jobs.

:class:`LocalState` keeps it in this process; :class:`RedisState` keeps it in
Redis and falls back to a LocalState whenever Redis cannot be reached, so no
request ever fails because of Redis.
"""

from __future__ import annotations

from gateway.state.base import SharedState
from gateway.state.local import LocalState
from gateway.state.redis_state import RedisState

__all__ = ["LocalState", "RedisState", "SharedState"]
