"""The upstream client against real sockets: the pool's queue, the connect cap, the
evidence a failure leaves (only a connection that never opened proves nothing was
sent), the answer cap, and what never leaks into an error."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from gateway.engine.transport import TransportError, Upstream
from providers.base import HttpRequest
from providers.errors import UpstreamError
from providers.secret import Secret

pytestmark = pytest.mark.anyio
SECRET = "sk-transport-test-0123456789abcdef"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


Answer = Callable[[bytes, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + (await reader.readexactly(length) if length else b"")


def ok(body: bytes = b'{"ok":true}', headers: str = "", delay: float = 0.0) -> Answer:
    async def answer(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if delay:
            await asyncio.sleep(delay)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
        writer.write(head.encode() + body)

    return answer


@asynccontextmanager
async def server(answer: Answer) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A keep-alive HTTP/1.1 server on loopback answering each request with ``answer``."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                seen.append(request)
                await answer(request, reader, writer)
                if writer.is_closing():
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        srv.close()


def upstream(**kwargs: float) -> Upstream:
    settings: dict[str, float] = {"max_connections": 10, "connect_timeout": 1.0, "read_timeout": 5.0}
    settings.update(kwargs)
    return Upstream(**settings)  # type: ignore[arg-type]


def post(url: str, **kwargs: int) -> HttpRequest:
    return HttpRequest("POST", url + "/api", {"Content-Type": "application/json"}, b'{"p":1}', **kwargs)


async def test_a_request_waits_for_a_pooled_connection_longer_than_the_connect_timeout() -> None:
    # One connection, three calls at once, each answered after 0.3 s: the third waits
    # 0.6 s in the pool's queue, twelve times the connect timeout, and still succeeds.
    async with server(ok(delay=0.3)) as (url, seen):
        up = upstream(max_connections=1, connect_timeout=0.05)
        try:
            answers = await asyncio.gather(*(up.send(post(url), None, read_timeout=5) for _ in range(3)))
        finally:
            await up.aclose()
    assert [a.status for a in answers] == [200, 200, 200]
    assert len(seen) == 3


async def test_connects_at_once_are_capped_and_every_call_succeeds() -> None:
    async with server(ok(delay=0.05)) as (url, _):
        up = Upstream(max_connections=50, connect_timeout=1, read_timeout=5, max_connects=2)
        connector = up.session().connector
        assert connector is not None
        busy = peak = 0
        create = type(connector).__mro__[1]._create_connection  # type: ignore[attr-defined]

        async def counted(self: object, *args: object) -> object:
            nonlocal busy, peak
            busy += 1
            peak = max(peak, busy)
            try:
                await asyncio.sleep(0.01)
                return await create(self, *args)
            finally:
                busy -= 1

        type(connector).__mro__[1]._create_connection = counted  # type: ignore[attr-defined]
        try:
            answers = await asyncio.gather(*(up.send(post(url), None, read_timeout=5) for _ in range(30)))
        finally:
            type(connector).__mro__[1]._create_connection = create  # type: ignore[attr-defined]
            await up.aclose()
    assert all(a.status == 200 for a in answers)
    assert peak == 2


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: nothing listens there


async def test_a_refused_connection_is_evidence_that_nothing_was_sent() -> None:
    up = upstream()
    try:
        with pytest.raises(TransportError) as failed:
            await up.send(post(f"http://127.0.0.1:{_refused_port()}"), Secret(SECRET), read_timeout=5)
    finally:
        await up.aclose()
    assert failed.value.evidence == "refused" and failed.value.retryable
    assert "could not connect" in failed.value.message


async def test_a_reset_after_the_request_was_sent_leaves_the_outcome_unknown() -> None:
    async def reset(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()  # RST: the request arrived, no answer will

    async with server(reset) as (url, seen):
        up = upstream()
        try:
            with pytest.raises(TransportError) as failed:
                await up.send(post(url), Secret(SECRET), read_timeout=5)
        finally:
            await up.aclose()
    assert len(seen) == 1
    assert failed.value.evidence == "unknown"


async def test_a_read_timeout_leaves_the_outcome_unknown() -> None:
    async with server(ok(delay=1.0)) as (url, _):
        up = upstream()
        try:
            with pytest.raises(TransportError) as failed:
                await up.send(post(url), None, read_timeout=0.1)
        finally:
            await up.aclose()
    assert failed.value.evidence == "unknown"
    assert "timed out" in failed.value.message


async def test_an_answer_declared_larger_than_the_cap_is_refused() -> None:
    async with server(ok(b"x" * 2000)) as (url, _):
        up = upstream()
        try:
            with pytest.raises(UpstreamError) as failed:
                await up.send(post(url, max_response_bytes=1000), None, read_timeout=5)
            assert (await up.send(post(url, max_response_bytes=2000), None, read_timeout=5)).body == b"x" * 2000
        finally:
            await up.aclose()
    assert "larger than 1000 bytes" in failed.value.message and failed.value.evidence == "unknown"


async def test_the_cap_counts_decoded_bytes_and_undeclared_lengths() -> None:
    compressed = gzip.compress(b"y" * 50_000)  # small on the wire, 50 KB once decoded

    async def gzipped(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(compressed)}\r\n\r\n".encode()
            + compressed
        )

    async def chunked(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(10):
            writer.write(b"1000\r\n" + b"z" * 0x1000 + b"\r\n")
        writer.write(b"0\r\n\r\n")

    for answer in (gzipped, chunked):
        async with server(answer) as (url, _):
            up = upstream(max_answer_bytes=20_000)
            try:
                with pytest.raises(UpstreamError) as failed:
                    await up.send(post(url), None, read_timeout=5)
                # a call allowed more reads it whole, decoded
                body = (await up.send(post(url, max_response_bytes=100_000), None, read_timeout=5)).body
            finally:
                await up.aclose()
        assert "larger than 20000 bytes" in failed.value.message
        assert body in (b"y" * 50_000, b"z" * 10 * 0x1000)


async def test_answer_headers_are_case_insensitive() -> None:
    async with server(ok(headers="X-Request-Id: rid-1\r\nRetry-After: 7\r\n")) as (url, _):
        up = upstream()
        try:
            answer = await up.send(post(url), None, read_timeout=5)
        finally:
            await up.aclose()
    assert answer.headers.get("x-request-id") == answer.headers["X-REQUEST-ID"] == "rid-1"
    assert answer.retry_after == 7.0


async def test_no_cookies_kept_no_redirects_followed_and_the_key_sent() -> None:
    async def answer(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nSet-Cookie: s=1; Path=/\r\n")
        writer.write(b"Content-Length: 0\r\n\r\n")

    async with server(answer) as (url, seen):
        up = upstream()
        try:
            first = await up.send(post(url), Secret(SECRET), read_timeout=5)
            await up.send(post(url), Secret(SECRET), read_timeout=5)
        finally:
            await up.aclose()
    assert first.status == 302
    assert len(seen) == 2 and all(b"/elsewhere" not in r.split(b"\r\n")[0] for r in seen)
    assert b"cookie:" not in seen[1].lower()
    assert f"\r\nAuthorization: Bearer {SECRET}\r\n".encode() in seen[0]


async def test_no_secret_in_transport_errors() -> None:
    port = _refused_port()
    url = f"http://127.0.0.1:{port}/api?key={SECRET}"
    up = upstream()
    try:
        with pytest.raises(TransportError) as failed:
            await up.send(HttpRequest("GET", url), Secret(SECRET), read_timeout=5)
    finally:
        await up.aclose()
    error = failed.value
    assert SECRET not in str(error) and SECRET not in repr(error) and SECRET not in error.message
    assert error.__cause__ is None and error.__suppress_context__
