"""The operations shared state offers; every one has a local and a Redis form."""

from __future__ import annotations

from typing import Protocol

__all__ = ["SharedState"]


class SharedState(Protocol):
    @property
    def distributed(self) -> bool:
        """Whether other replicas see this state (Redis reachable)."""

    async def admit(self, key: str, limit: int, window: float) -> float | None:
        """Count a request against ``limit`` per ``window`` seconds: None if admitted, else seconds to wait."""

    async def reserve(self, key: str, interval: float, budget: float) -> float | None:
        """Take the next send slot (slots ``interval`` apart): seconds to wait, or None past ``budget``."""

    async def acquire(self, key: str, limit: int, holder: str, lease: float) -> bool:
        """Take one of ``limit`` slots for at most ``lease`` seconds; False when all are taken."""

    async def release(self, key: str, holder: str) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl: float) -> None: ...

    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        """Set ``key`` to ``owner`` unless it is set: True for the one caller that set it."""

    async def delete(self, key: str) -> None: ...

    async def schedule(self, queue: str, member: str, payload: bytes, delay: float, limit: int) -> bool:
        """Queue ``member`` with ``payload``, due in ``delay`` seconds; a member already queued is
        replaced. False (nothing queued) when ``queue`` already holds ``limit`` other members."""

    async def take_due(self, queue: str, limit: int, lease: float) -> list[tuple[str, bytes]]:
        """Up to ``limit`` members due now, with their payloads, leased to the caller: each is due
        again ``lease`` seconds from now unless :meth:`done` or :meth:`schedule` comes first, so one
        that a replica took and never finished (it died) is taken by another."""

    async def done(self, queue: str, member: str) -> None:
        """Take ``member`` off ``queue``."""

    def health(self) -> dict[str, object]:
        """What /readyz reports about this state (never fails readiness)."""
