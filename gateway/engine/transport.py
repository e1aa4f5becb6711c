"""The upstream HTTP client and the one place transport exceptions become gateway errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

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
    elif isinstance(exc, httpx.TimeoutException | aiohttp.ServerTimeoutError):
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


def _declared_too_large(headers: Mapping[str, str], limit: int) -> bool:
    declared = headers.get("content-length")
    return declared is not None and declared.isdigit() and int(declared) > limit


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, read as it arrives and refused (unread) past ``limit`` bytes."""
    if _declared_too_large(response.headers, limit):
        raise _too_large(limit)
    content = response.content
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.readany():  # decoded: a compressed answer is bounded by what it becomes
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _read_capped_httpx(response: httpx.Response, limit: int) -> bytes:
    """:func:`_read_capped` for an answer from an httpx transport (one given to :class:`Upstream`)."""
    if _declared_too_large(response.headers, limit):
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class _Connector(aiohttp.TCPConnector):
    """A connection pool that opens at most ``max_connects`` connections at once.

    Thousands of requests that start together queue here for a connect instead of
    sending thousands of SYNs into the upstream's listen backlog (and TLS handshakes
    into its CPU) in the same instant; the connect timeout runs from the connect's
    own start, not from the moment the request joined the queue.
    """

    def __init__(self, *, max_connects: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._connects = asyncio.Semaphore(max_connects)

    async def _create_connection(self, req: Any, traces: Any, timeout: aiohttp.ClientTimeout) -> Any:
        async with self._connects:
            return await super()._create_connection(req, traces, timeout)


class Upstream:
    """The upstream HTTP client: one aiohttp connection pool, bounded, with a queue.

    At most ``max_connections`` connections are open (API calls, downloads and
    streams together); a request that finds them all busy waits in line for one, as
    long as its own read timeout allows (the engine's is bounded by the request's
    deadline), never merely as long as a connect may take. ``connect_timeout``
    covers the TCP (and TLS) connect alone.

    API calls go straight to aiohttp: no cookies kept across unrelated requests, no
    redirects followed, neither of which a gateway wants. Result downloads and chat
    streams, which stream, use the httpx ``client`` on the same pool. A ``transport``
    given (tests) takes the API calls too.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        max_answer_bytes: int = 8 * 1024 * 1024,
        max_connects: int = 256,
        keepalive_seconds: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.max_connections = max_connections
        self.max_connects = max_connects
        self.keepalive_seconds = keepalive_seconds
        self.connect_timeout = connect_timeout
        self.max_answer_bytes = max_answer_bytes
        self._session: aiohttp.ClientSession | None = None
        #: The line for a connection: a call waiting here holds a future, not the
        #: request aiohttp would already have built for its own pool's queue.
        self._calls = asyncio.Semaphore(max_connections)
        self._given = transport
        self.transport = transport or AiohttpTransport(client=self.session)
        self.client = httpx.AsyncClient(
            transport=self.transport,
            # pool: the wait for a free connection, as long as the wait for an answer
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=read_timeout),
            follow_redirects=False,
        )

    def session(self) -> aiohttp.ClientSession:
        """The pool's session, made in the running loop on first use."""
        if self._session is None:
            connector = _Connector(
                max_connects=self.max_connects,
                limit=self.max_connections,
                keepalive_timeout=self.keepalive_seconds,
                ssl=httpx.create_ssl_context(),  # the CA bundle httpx (and so the gateway) always used
            )
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True
            )
        return self._session

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
        limit = request.max_response_bytes or self.max_answer_bytes
        if self._given is not None:
            return await self._send_httpx(request, headers, connect, read_timeout, limit)
        # A call waits for a connection as long as it would wait for an answer (the engine's
        # read timeout is bounded by the request's deadline), never just a connect's time.
        wait = read_timeout + connect
        calls = self._calls
        if calls.locked():
            await self._wait_in_line(calls, wait, request)
        else:
            await calls.acquire()  # at once
        try:
            # connect: a wait for a pooled connection (downloads share the pool) plus the connect
            timeout = aiohttp.ClientTimeout(connect=wait, sock_connect=connect, sock_read=read_timeout)
            session = self._session or self.session()
            try:  # not the context managers: this is the hot path
                response = await session.request(
                    request.method,
                    request.url,
                    headers=headers,
                    data=request.body,
                    timeout=timeout,
                    allow_redirects=False,
                )
                try:
                    body = await _read_capped(response, limit)
                except BaseException:
                    response.close()  # never hand a half-read connection back to the pool
                    raise
                response.release()
            except aiohttp.ClientError as exc:
                raise _translated(exc, f"{request.method} {request.url.split('?')[0]}") from None
        finally:
            calls.release()
        return HttpResponse(response.status, response.headers, body)

    @staticmethod
    async def _wait_in_line(calls: asyncio.Semaphore, wait: float, request: HttpRequest) -> None:
        try:
            async with asyncio.timeout(wait):
                await calls.acquire()
        except TimeoutError:
            # Nothing was sent: the call may go again (the engine retries only such calls).
            raise TransportError(
                f"no upstream connection came free within {wait:g}s ({request.method} {request.url.split('?')[0]})",
                nothing_sent=True,
            ) from None

    async def _send_httpx(
        self, request: HttpRequest, headers: dict[str, str], connect: float, read_timeout: float, limit: int
    ) -> HttpResponse:
        timeout = {"connect": connect, "read": read_timeout, "write": read_timeout, "pool": read_timeout}
        outgoing = httpx.Request(
            request.method, request.url, headers=headers, content=request.body, extensions={"timeout": timeout}
        )
        try:
            response = await self.transport.handle_async_request(outgoing)
            try:
                body = await _read_capped_httpx(response, limit)
            finally:
                await response.aclose()
        except _TRANSPORT_ERRORS as exc:
            raise _translated(exc, f"{request.method} {request.url.split('?')[0]}") from None
        return HttpResponse(response.status_code, response.headers, body)

    async def aclose(self) -> None:
        await self.client.aclose()
        if self._session is not None and not self._session.closed:
            await self._session.close()
