"""Work done for a client who may go away: cancelled (and its upstream polling with it) when they do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from litestar import Request

__all__ = ["ClientGone", "unless_client_leaves"]

T = TypeVar("T")


class ClientGone(Exception):
    pass


async def _cancel_on_disconnect(request: Request[Any, Any, Any], task: asyncio.Task[Any], gone: list[bool]) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    gone.append(True)
    task.cancel()


async def unless_client_leaves(request: Request[Any, Any, Any], work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it (and its upstream polling) if the client disconnects first."""
    current = asyncio.current_task()
    assert current is not None
    gone: list[bool] = []
    watcher = asyncio.ensure_future(_cancel_on_disconnect(request, current, gone))
    try:
        return await work
    except asyncio.CancelledError:
        if gone:
            current.uncancel()
            raise ClientGone from None
        raise
    finally:
        watcher.cancel()
