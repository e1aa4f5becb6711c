"""What a store does, and whose images it is keeping."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

__all__ = ["ImageStore", "Owner", "StoreFailed"]


@dataclass(frozen=True, slots=True)
class Owner:
    """The request (or job) the images answer: names the objects and labels them."""

    request_id: str
    #: The client key's name, never the key.
    client: str | None = None
    #: ``scheme://host`` the client reached the gateway at (for URLs without a public_base_url).
    origin: str | None = None


class StoreFailed(Exception):
    """The store refused or could not be reached; the message is safe to show (no credentials)."""


class ImageStore(abc.ABC):
    kind: str
    #: Folders every object name starts with ("" or ending in "/").
    prefix: str = ""
    #: Images copied at once, across all requests.
    concurrency: int = 64
    #: Seconds between :meth:`cleanup` runs; None: the store expires objects itself (lifecycle rules).
    cleanup_interval: float | None = None

    @abc.abstractmethod
    async def save(
        self, name: str, chunks: AsyncIterator[bytes], content_type: str, metadata: Mapping[str, str]
    ) -> None:
        """Write the object from ``chunks`` (consumed once, as they arrive); raise StoreFailed."""

    @abc.abstractmethod
    def url(self, name: str, origin: str | None, now: float) -> str:
        """Where a client fetches it: a signed or public URL."""

    async def aclose(self) -> None:  # noqa: B027 (most stores hold nothing to close)
        """Release connections."""

    async def cleanup(self, now: float) -> int:
        """Delete what is past retention; returns how many. Stores with lifecycle rules do nothing."""
        return 0
