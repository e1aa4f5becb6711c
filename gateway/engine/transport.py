"""The upstream HTTP client and the one place transport exceptions become gateway errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from providers.base import HttpRequest, HttpResponse
from providers.errors import UpstreamError
from providers.secret import Secret

__all__ = ["TransportError", "Upstream", "translate_transport_errors"]


class TransportError(UpstreamError):
    """The upstream could not be reached, or the exchange broke off."""

    retryable = True

    def __init__(self, message: str, *, nothing_sent: bool) -> None:
        # Only a connection that never opened proves the call was not received; a
        # timeout or a reset after sending leaves the images (or the task) unknown.
        super().__init__(message, evidence="refused" if nothing_sent else "unknown")


def _never_connected(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, httpx.ConnectError | aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return True
        cause = cause.__cause__
    return False


_TRANSPORT_ERRORS = (httpx.TransportError, aiohttp.ClientError)


def _translated(exc: Exception, what: str) -> TransportError:
    never = _never_connected(exc)
    if never:
        reason = "could not connect to the upstream"
    elif isinstance(exc, httpx.TimeoutException):
        reason = "the upstream timed out"
    else:
        reason = "the upstream connection failed"
    return TransportError(f"{reason} ({what})", nothing_sent=never)


@contextmanager
def translate_transport_errors(what: str) -> Iterator[None]:
    try:
        yield
    except _TRANSPORT_ERRORS as exc:
        raise _translated(exc, what) from None


def _too_large(limit: int) -> UpstreamError:
    # The call arrived and was answered: whatever the answer holds may have been billed.
    return UpstreamError(
        f"The upstream's answer is larger than {limit} bytes, the gateway's limit for this call",
        retryable=False,
        evidence="unknown",
    )


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """The body, read as a stream and refused (unread) past ``limit`` bytes."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():  # decoded: a compressed answer is bounded by what it becomes
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class Upstream:
    """httpx's API over aiohttp's connection pool, which holds up with thousands in flight.

    API calls go straight to the transport: the client layer above it would keep
    cookies across unrelated requests and follow redirects, neither of which a
    gateway wants, and it costs a third of the per-request CPU. Result downloads,
    which stream, use the client on the same pool.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        max_answer_bytes: int = 8 * 1024 * 1024,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self.transport = transport or AiohttpTransport(limits=limits)
        self.connect_timeout = connect_timeout
        self.max_answer_bytes = max_answer_bytes
        self.client = httpx.AsyncClient(
            transport=self.transport,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
            follow_redirects=False,
        )

    async def send(
        self,
        request: HttpRequest,
        api_key: Secret | None,
        *,
        read_timeout: float,
        connect_timeout: float | None = None,
    ) -> HttpResponse:
        headers = dict(request.headers)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key.reveal()}"
        connect = connect_timeout or self.connect_timeout
        timeout = {"connect": connect, "read": read_timeout, "write": read_timeout, "pool": connect}
        outgoing = httpx.Request(
            request.method, request.url, headers=headers, content=request.body, extensions={"timeout": timeout}
        )
        try:  # not the context manager: this is the hot path
            response = await self.transport.handle_async_request(outgoing)
            try:
                body = await _read_capped(response, request.max_response_bytes or self.max_answer_bytes)
            finally:
                await response.aclose()
        except _TRANSPORT_ERRORS as exc:
            raise _translated(exc, f"{request.method} {request.url.split('?')[0]}") from None
        return HttpResponse(response.status_code, response.headers, body)

    async def aclose(self) -> None:
        await self.client.aclose()
