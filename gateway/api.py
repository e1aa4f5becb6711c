"""Route handlers: decode, call a service, encode. Nothing else lives here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State

from gateway.auth import require_client_key
from gateway.images import ImageService
from gateway.schemas import ImageGenerationRequest, decode_request

__all__ = ["ROUTES"]

T = TypeVar("T")
#: Nginx's code for "client closed request": nobody reads it, logs and metrics do.
CLIENT_CLOSED = 499


class ClientGone(Exception):
    pass


async def _until_disconnect(request: Request[Any, Any, Any]) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_client_leaves(request: Request[Any, Any, Any], work: Awaitable[T]) -> T:
    """Run ``work``, cancelling it (and its upstream polling) when the client disconnects."""
    job = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_until_disconnect(request))
    try:
        await asyncio.wait((job, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if not job.done():
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
        raise ClientGone
    return job.result()


def _json(payload: Any, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(msgspec.json.encode(payload), media_type="application/json", headers=headers)


@post("/v1/images/generations", guards=[require_client_key])
async def images_generations(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    service: ImageService = state.images
    body = decode_request(await request.body(), ImageGenerationRequest)
    try:
        served = await unless_client_leaves(request, service.generate(body))
    except ClientGone:
        return Response(b"", status_code=CLIENT_CLOSED)
    headers = {"x-gateway-provider": served.route.target.name, "x-gateway-model": served.route.model.id}
    return _json(served.response, headers)


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz")
async def readyz(state: State) -> Response[bytes]:
    ready = bool(getattr(state, "ready", False))
    return _json({"status": "ready" if ready else "not ready"}) if ready else Response(
        msgspec.json.encode({"status": "not ready"}), status_code=503, media_type="application/json"
    )


ROUTES = [images_generations, healthz, readyz]
