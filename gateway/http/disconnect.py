"""Work done for a client who may go away: cancelled (and its upstream polling with it) when they do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from litestar import Request

__all__ = ["ClientGone", "unless_client_leaves"]

T = TypeVar("T")


class ClientGone(Exception):
    pass


class _Watch:
    """Awaits the client's next ASGI message as a task of its own (the server's ``receive``
    coroutine itself, no coroutine around it: thousands of requests in flight each hold
    one) and cancels ``work`` when the message says the client has gone."""

    __slots__ = ("gone", "receive", "waiting", "work")

    def __init__(self, receive: Callable[[], Awaitable[Any]], work: asyncio.Task[Any]) -> None:
        self.receive = receive
        self.work = work
        self.gone = False
        self.waiting = self._listen()

    def _listen(self) -> asyncio.Future[Any]:
        waiting = asyncio.ensure_future(self.receive())
        waiting.add_done_callback(self._heard)
        return waiting

    def _heard(self, waiting: asyncio.Future[Any]) -> None:
        if waiting.cancelled() or waiting.exception() is not None:
            return  # stopped, or the server's receive failed: nothing to tell
        if waiting.result()["type"] == "http.disconnect":
            self.gone = True
            self.work.cancel()
        else:  # more of the body, unread by the handler: keep listening
            self.waiting = self._listen()

    def stop(self) -> None:
        self.waiting.cancel()


async def unless_client_leaves(request: Request[Any, Any, Any], work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it (and its upstream polling) if the client disconnects first."""
    current = asyncio.current_task()
    assert current is not None
    watch = _Watch(request.receive, current)
    try:
        return await work
    except asyncio.CancelledError:
        if watch.gone:
            current.uncancel()
            raise ClientGone from None
        raise
    finally:
        watch.stop()
