"""Copying an answer's images into the store before the answer is sent.

A URL result is streamed from the provider straight into the store, one chunk at a time;
an image the gateway already holds (b64_json answers, inline results) is written as is.
Any failure fails the whole answer with a 502 that says the images were made: never an
answer with an image missing, and never a retry that would pay for them again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

import httpx

from gateway.engine.downloads import stream_image, timed_out
from gateway.engine.gather import gather_or_cancel
from gateway.observability import tracing
from gateway.observability.metrics import Metrics
from gateway.settings import DownloadSettings
from gateway.storage.base import ImageStore, Owner, StoreFailed
from gateway.storage.naming import CONTENT_TYPES, EXTENSIONS, object_name
from providers.errors import ApiError, DownloadError
from providers.images import sniff_format

__all__ = ["ResultKeeper", "StorageFailed"]

#: Enough of a file to tell its format by its magic bytes.
_SNIFF_BYTES = 16


class StorageFailed(ApiError):
    status = 502
    type = "api_error"
    default_code = "storage_failed"
    #: The images exist and were billed: an SDK retry would pay for them again.
    final = True


class ResultKeeper:
    def __init__(
        self,
        store: ImageStore,
        client: httpx.AsyncClient,
        downloads: DownloadSettings,
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.client = client
        self.downloads = downloads
        self.metrics = metrics
        # One bound across all requests: what copies hold in memory is this many chunks (or spools).
        self._slots = asyncio.Semaphore(store.concurrency)

    async def keep_urls(
        self, urls: Sequence[str], allowed: Callable[[str], bool], owner: Owner, model: str
    ) -> list[str]:
        """Each result URL's image, stored; their stored URLs, in order."""
        return await self._keep(
            len(urls), owner, model, lambda i: stream_image(self.client, urls[i], allowed, self.downloads)
        )

    async def keep_blobs(self, blobs: Sequence[bytes], owner: Owner, model: str) -> list[str]:
        return await self._keep(len(blobs), owner, model, lambda i: _held(blobs[i]))

    async def _keep(
        self, count: int, owner: Owner, model: str, source: Callable[[int], AsyncGenerator[bytes]]
    ) -> list[str]:
        now = time.time()
        when = datetime.fromtimestamp(now, UTC)
        metadata = {"model": model, "client": owner.client or "", "request-id": owner.request_id}

        async def one(index: int) -> str:
            async with self._slots:
                started = time.monotonic()
                try:
                    async with asyncio.timeout(self.downloads.timeout_seconds):
                        with tracing.span("gateway.store", lambda: {"gateway.store": self.store.kind}) as span:
                            name = await self._save(source(index), when, owner, index, metadata)
                            span.set("gateway.object", name)
                except TimeoutError:
                    self._count("failed")
                    raise timed_out(self.downloads) from None
                except StoreFailed as exc:
                    self._count("failed")
                    raise StorageFailed(
                        f"The upstream made {count} image(s), but the gateway could not store them: {exc}"
                    ) from None
                except BaseException:
                    self._count("failed")
                    raise
                self._count("stored")
                self.metrics.of(self.metrics.store_seconds, self.store.kind).observe(time.monotonic() - started)
                return self.store.url(name, owner.origin, now)

        return await gather_or_cancel(one(index) for index in range(count))

    async def _save(
        self, chunks: AsyncGenerator[bytes], when: datetime, owner: Owner, index: int, metadata: dict[str, str]
    ) -> str:
        try:
            return await self._write(chunks, when, owner, index, metadata)
        finally:
            await chunks.aclose()  # a failed store must not leave the download's connection open

    async def _write(
        self, chunks: AsyncGenerator[bytes], when: datetime, owner: Owner, index: int, metadata: dict[str, str]
    ) -> str:
        head = b""
        async for chunk in chunks:
            head += chunk
            if len(head) >= _SNIFF_BYTES:
                break
        fmt = sniff_format(head)
        if fmt is None:
            raise DownloadError("result download does not hold a known image format")
        name = object_name(self.store.prefix, when, owner.request_id, index, fmt)
        size = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal size
            size += len(head)
            yield head
            async for chunk in chunks:
                size += len(chunk)
                yield chunk

        await self.store.save(name, body(), CONTENT_TYPES[EXTENSIONS[fmt]], metadata)
        self.metrics.of(self.metrics.stored_bytes, self.store.kind).inc(size)
        return name

    def _count(self, outcome: str) -> None:
        self.metrics.of(self.metrics.stored_images, self.store.kind, outcome).inc()


async def _held(blob: bytes) -> AsyncGenerator[bytes]:
    yield blob
