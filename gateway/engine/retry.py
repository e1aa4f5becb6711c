"""Retry timing: pure functions, so they are tested without sleeping."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["MAX_RETRY_AFTER", "Backoff"]

#: OpenAI SDKs 3.x give up entirely on a Retry-After above 120 s.
MAX_RETRY_AFTER = 120.0


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 8.0
    factor: float = 2.0

    def delay(self, attempt: int, retry_after: float | None = None, *, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1).

        The upstream's Retry-After wins when it gives one; otherwise exponential
        backoff with full jitter in [50 %, 100 %] so synchronized clients spread out.
        """
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, MAX_RETRY_AFTER)
        base = min(self.initial * self.factor ** (attempt - 1), self.maximum)
        return base * (0.5 + 0.5 * (rng or random).random())

    def poll_interval(self, previous: float | None) -> float:
        """Task polls start at ``initial`` and grow by half each time up to ``maximum``."""
        return self.initial if previous is None else min(previous * 1.5, self.maximum)
