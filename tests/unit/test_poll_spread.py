"""Tasks submitted together do not all poll in the same instant."""

from __future__ import annotations

from gateway.engine.executor import POLL_JITTER, poll_delay


def test_poll_delays_spread_around_the_schedule() -> None:
    delays = [poll_delay(2.0) for _ in range(2000)]
    assert all(2.0 * (1 - POLL_JITTER) <= d <= 2.0 * (1 + POLL_JITTER) for d in delays)
    assert max(delays) - min(delays) > 2.0 * POLL_JITTER  # spread, not one instant
    assert abs(sum(delays) / len(delays) - 2.0) < 0.02  # the schedule itself is kept on average
