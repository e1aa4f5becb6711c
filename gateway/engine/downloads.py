"""Fetching result images for ``response_format=b64_json``: bounded, checked, never silent."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncGenerator, Callable, Sequence

import httpx

from gateway.engine.gather import gather_or_cancel
from gateway.engine.transport import translate_transport_errors
from gateway.observability import tracing
from gateway.settings import DownloadSettings
from providers.errors import DownloadError
from providers.images import sniff_format

__all__ = ["b64", "fetch_all_b64", "fetch_image", "inline_image", "stream_image", "timed_out"]


def _host(url: str) -> str:
    return httpx.URL(url).host or "?"


async def stream_image(
    client: httpx.AsyncClient, url: str, allowed: Callable[[str], bool], settings: DownloadSettings
) -> AsyncGenerator[bytes]:
    """The image's bytes as they arrive, checked and bounded; the caller bounds the time."""
    if not allowed(url):
        raise DownloadError(f"refusing to download a result from a host that is not allowed ({_host(url)})")
    with translate_transport_errors("result download"):
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise DownloadError(f"result download failed: HTTP {response.status_code} from {_host(url)}")
            content_type = response.headers.get("content-type", "")
            if not content_type.startswith("image/"):
                raise DownloadError(f"result download is not an image (content-type {content_type!r})")
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > settings.max_bytes:
                    raise DownloadError(f"result image exceeds the {settings.max_bytes}-byte download limit")
                yield chunk


async def fetch_image(
    client: httpx.AsyncClient, url: str, allowed: Callable[[str], bool], settings: DownloadSettings
) -> bytes:
    """The image's bytes. Raises DownloadError (502) for any failure."""
    if url.startswith("data:"):
        return inline_image(url, settings)
    with tracing.span("gateway.download", lambda: {"server.address": _host(url)}, client=True) as span:
        try:
            async with asyncio.timeout(settings.timeout_seconds):
                data = b"".join([chunk async for chunk in stream_image(client, url, allowed, settings)])
        except TimeoutError:
            raise timed_out(settings) from None
        span.set("gateway.bytes", len(data))
    if sniff_format(data) is None:
        raise DownloadError("result download does not hold a known image format")
    return data


def timed_out(settings: DownloadSettings) -> DownloadError:
    return DownloadError(f"result download timed out after {settings.timeout_seconds:g}s")


def inline_image(url: str, settings: DownloadSettings) -> bytes:
    """An image an OpenAI-compatible upstream returned inline (base64), checked like a download."""
    header, _, payload = url.partition(",")
    if ";base64" not in header:
        raise DownloadError("the upstream returned an inline image that is not base64")
    if len(payload) * 3 // 4 > settings.max_bytes:
        raise DownloadError(f"result image exceeds the {settings.max_bytes}-byte download limit")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise DownloadError("the upstream returned an inline image with invalid base64") from None
    if sniff_format(data) is None:
        raise DownloadError("the upstream's inline image is not in a known image format")
    return data


async def fetch_all_b64(
    client: httpx.AsyncClient, urls: Sequence[str], allowed: Callable[[str], bool], settings: DownloadSettings
) -> list[bytes]:
    """Every image, in order; one failure fails the whole answer (never a missing image)."""
    limit = asyncio.Semaphore(settings.concurrency)

    async def one(url: str) -> bytes:
        async with limit:
            return await fetch_image(client, url, allowed, settings)

    return await gather_or_cancel(one(url) for url in urls)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
