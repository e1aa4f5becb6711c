"""Running an image request for a client who may leave, and the headers its answer carries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

from litestar import Request
from litestar.response import Stream

from gateway.http.disconnect import ClientGone, unless_client_leaves
from gateway.http.headers import header
from gateway.http.sse import HEADERS
from gateway.observability.context import current_request
from gateway.service.images import ImageService, Served
from gateway.service.plan import Plan
from gateway.service.routing import Route
from gateway.wire.decode import decode_request, require_json

T = TypeVar("T")

__all__ = ["event_stream", "json_body", "serve_images", "served_headers", "wants_cache"]


def wants_cache(request: Request[Any, Any, Any]) -> bool:
    """``Cache-Control: no-cache`` (or no-store) asks for a fresh image."""
    directives = (header(request.scope, b"cache-control") or "").lower()
    return "no-cache" not in directives and "no-store" not in directives


async def serve_images(request: Request[Any, Any, Any], service: ImageService, plan: Plan) -> Served | None:
    """:meth:`ImageService.run`, cancelled if the client leaves (None then)."""
    try:
        work = service.run(plan, use_cache=wants_cache(request))
        return await unless_client_leaves(request, work)
    except ClientGone:
        return None


def served_headers(served: Served) -> dict[str, str]:
    headers = {"x-gateway-provider": served.route.target.name, "x-gateway-model": served.route.model.id}
    # What a client (the console among them) can show: the size the answer has, where it came from.
    if served.response.size:
        headers["x-gateway-size"] = served.response.size
    if served.size_sent:
        headers["x-gateway-size-sent"] = served.size_sent
    if served.cache:
        headers["x-gateway-cache"] = served.cache
    ctx = current_request()
    headers["x-gateway-fallbacks"] = str(ctx.fallbacks if ctx else 0)
    return headers


async def json_body(request: Request[Any, Any, Any], type_: type[T]) -> tuple[bytes, T]:
    """The request's JSON body, as bytes and decoded (415 for another content type, 400 for bad JSON)."""
    require_json(header(request.scope, b"content-type") or "")
    body = await request.body()
    return body, decode_request(body, type_)


def event_stream(events: AsyncIterator[bytes], route: Route) -> Stream:
    """Server-sent events from the target that makes them."""
    headers = {**HEADERS, "x-gateway-provider": route.target.name, "x-gateway-model": route.model.id}
    return Stream(events, media_type="text/event-stream", headers=headers)
