"""Route handlers: decode, call a service, encode. Nothing else lives here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State

from gateway.auth import require_client_key
from gateway.chat import chat_completions
from gateway.edits import images_edits
from gateway.images import ImageService
from gateway.jobs_api import prefers_async, submit_job
from gateway.models_api import list_models, retrieve_model
from gateway.schemas import ImageGenerationRequest, decode_request

__all__ = ["ROUTES"]

T = TypeVar("T")
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


def _json(payload: Any, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(msgspec.json.encode(payload), media_type="application/json", headers=headers)


@post("/v1/images/generations", status_code=200)
async def images_generations(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    require_client_key(request)
    service: ImageService = state.images
    body = decode_request(await request.body(), ImageGenerationRequest)
    if prefers_async(request):
        return await submit_job(request, body.model, service.spec_of(body), body.response_format or "url")
    try:
        served = await unless_client_leaves(request, service.generate(body, use_cache=wants_cache(request)))
    except ClientGone:
        return Response(b"", status_code=CLIENT_CLOSED)
    headers = {"x-gateway-provider": served.route.target.name, "x-gateway-model": served.route.model.id}
    return _json(served.response, headers)


ROUTES = [images_generations, images_edits, chat_completions, list_models, retrieve_model]
