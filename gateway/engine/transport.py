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
        super().__init__(message)
        #: True when the request provably never reached the upstream (connect failed),
        #: so even a task submit may be re-sent without risking a second task.
        self.nothing_sent = nothing_sent


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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self.transport = transport or AiohttpTransport(limits=limits)
        self.connect_timeout = connect_timeout
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
                body = await response.aread()
            finally:
                await response.aclose()
        except _TRANSPORT_ERRORS as exc:
            raise _translated(exc, f"{request.method} {request.url.split('?')[0]}") from None
        return HttpResponse(response.status_code, response.headers, body)

    async def aclose(self) -> None:
        await self.client.aclose()
