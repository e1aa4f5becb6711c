"""What the edits and chat handlers share: running an image request for a client who may leave."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response

from gateway.images import ImageService, Served
from gateway.routing import Route
from providers.base import ImageSpec

__all__ = [
    "CLIENT_CLOSED",
    "LARGE_BODY_BYTES",
    "ClientGone",
    "json_response",
    "serve_images",
    "served_headers",
    "unless_client_leaves",
    "wants_cache",
]

T = TypeVar("T")

#: Routes that carry input images: 9 images of 20 MiB (wan2.7's limits) as base64 data
#: URIs in JSON (x4/3), plus the rest of the body. Other routes keep the app's 10 MiB.
LARGE_BODY_BYTES = 256 * 1024 * 1024
#: Nginx's code for "client closed request": nobody reads it, logs and metrics do.
CLIENT_CLOSED = 499


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


def wants_cache(request: Request[Any, Any, Any]) -> bool:
    """``Cache-Control: no-cache`` (or no-store) asks for a fresh image."""
    directives = request.headers.get("cache-control", "").lower()
    return "no-cache" not in directives and "no-store" not in directives


def json_response(payload: Any, headers: dict[str, str] | None = None, status: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(payload), status_code=status, media_type="application/json", headers=headers)


async def serve_images(
    request: Request[Any, Any, Any],
    service: ImageService,
    model: str | None,
    spec: ImageSpec,
    fmt: str,
    routes: Sequence[Route] | None = None,
) -> Served | None:
    """:meth:`ImageService.run`, cancelled if the client leaves (None then)."""
    try:
        work = service.run(model, spec, fmt, use_cache=wants_cache(request), routes=routes)
        return await unless_client_leaves(request, work)
    except ClientGone:
        return None


def served_headers(served: Served) -> dict[str, str]:
    return {"x-gateway-provider": served.route.target.name, "x-gateway-model": served.route.model.id}
