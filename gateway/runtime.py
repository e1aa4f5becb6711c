"""Process-wide state the HTTP app, the server loop and admin code share."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.http.auth import KeyRing
from gateway.observability.metrics import Metrics
from gateway.settings import GatewayConfig

if TYPE_CHECKING:
    from gateway.service.jobs import JobService
    from gateway.state import SharedState
    from gateway.usage.ledger import Ledger

__all__ = ["Runtime"]


@dataclass
class Runtime:
    config: GatewayConfig
    metrics: Metrics = field(default_factory=Metrics)
    keyring: KeyRing | None = None
    ready: bool = False
    draining_since: float | None = None
    in_flight: int = 0
    shared: SharedState | None = None
    jobs: JobService | None = None
    #: The usage ledger (None when usage.enabled is false).
    ledger: Ledger | None = None

    def __post_init__(self) -> None:
        if self.keyring is None:
            self.keyring = KeyRing(self.config)

    @property
    def draining(self) -> bool:
        return self.draining_since is not None

    def start_draining(self) -> None:
        if self.draining_since is None:
            self.draining_since = time.monotonic()

    def readiness_details(self) -> dict[str, object]:
        """Extra readiness facts (shared state, ...) that do not fail readiness."""
        return self.shared.health() if self.shared is not None else {}

    @property
    def busy(self) -> int:
        """Requests in flight plus async jobs this replica is running."""
        return self.in_flight + (self.jobs.running if self.jobs is not None else 0)

    @property
    def uncollected(self) -> int:
        """Finished jobs whose results would be lost with this process."""
        return self.jobs.waiting_collection if self.jobs is not None else 0

    def drained(self) -> bool:
        """Nothing left in flight or waiting to be collected, or the drain deadline has passed."""
        if self.draining_since is None:
            return False
        idle = self.busy == 0 and self.uncollected == 0
        return idle or time.monotonic() - self.draining_since >= self.config.drain_deadline
