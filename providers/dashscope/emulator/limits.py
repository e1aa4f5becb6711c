"""Sliding-window rate limits on the emulator clock."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

TASK_QUERY_LIMIT = 20  # GET /api/v1/tasks/{id}: 20 QPS per account


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[Hashable, deque[float]] = {}

    def allow(self, key: Hashable, limit: int, window: float, now: float) -> bool:
        """Records a call under ``key`` unless ``limit`` calls already fell within the last ``window`` s."""
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True
