"""Work done for a client who may go away: cancelled when they do, and nothing left behind."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.http.disconnect import ClientGone, unless_client_leaves

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeRequest:
    """What unless_client_leaves uses of a litestar Request: its ASGI ``receive``."""

    def __init__(self, messages: list[tuple[float, dict[str, Any]]]) -> None:
        self.messages = list(messages)
        self.calls = 0
        self.pending = 0

    async def receive(self) -> dict[str, Any]:
        self.calls += 1
        self.pending += 1
        try:
            if not self.messages:
                await asyncio.sleep(3600)  # a client who stays
            delay, message = self.messages.pop(0)
            await asyncio.sleep(delay)
            return message
        finally:
            self.pending -= 1


DISCONNECT = {"type": "http.disconnect"}
MORE = {"type": "http.request", "body": b"", "more_body": False}


async def test_the_work_is_cancelled_when_the_client_leaves() -> None:
    request = FakeRequest([(0.05, DISCONNECT)])
    cancelled = asyncio.Event()

    async def work() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "done"

    started = asyncio.get_running_loop().time()
    with pytest.raises(ClientGone):
        await unless_client_leaves(request, work())  # type: ignore[arg-type]
    assert cancelled.is_set() and asyncio.get_running_loop().time() - started < 1
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_other_messages_do_not_stop_the_watch() -> None:
    request = FakeRequest([(0.01, MORE), (0.01, MORE), (0.05, DISCONNECT)])
    with pytest.raises(ClientGone):
        await unless_client_leaves(request, asyncio.sleep(10))  # type: ignore[arg-type]
    assert request.calls == 3


async def test_work_that_finishes_first_leaves_no_watcher_behind() -> None:
    request = FakeRequest([])
    assert await unless_client_leaves(request, asyncio.sleep(0.01, "ok")) == "ok"  # type: ignore[arg-type]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert request.pending == 0


async def test_a_cancel_from_elsewhere_is_not_a_departed_client() -> None:
    request = FakeRequest([])

    async def caller() -> None:
        await unless_client_leaves(request, asyncio.sleep(10))  # type: ignore[arg-type]

    task = asyncio.ensure_future(caller())
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert request.pending == 0


async def test_work_errors_pass_through() -> None:
    async def broken() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await unless_client_leaves(FakeRequest([]), broken())  # type: ignore[arg-type]
