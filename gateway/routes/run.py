"""Running an image request for a client who may leave, and the headers its answer carries."""

from __future__ import annotations

from typing import Any

from litestar import Request

from gateway.http.disconnect import ClientGone, unless_client_leaves
from gateway.service.images import ImageService, Served
from gateway.service.plan import Plan

__all__ = ["serve_images", "served_headers", "wants_cache"]


def wants_cache(request: Request[Any, Any, Any]) -> bool:
    """``Cache-Control: no-cache`` (or no-store) asks for a fresh image."""
    directives = request.headers.get("cache-control", "").lower()
    return "no-cache" not in directives and "no-store" not in directives


async def serve_images(request: Request[Any, Any, Any], service: ImageService, plan: Plan) -> Served | None:
    """:meth:`ImageService.run`, cancelled if the client leaves (None then)."""
    try:
        work = service.run(plan, use_cache=wants_cache(request))
        return await unless_client_leaves(request, work)
    except ClientGone:
        return None


def served_headers(served: Served) -> dict[str, str]:
    return {"x-gateway-provider": served.route.target.name, "x-gateway-model": served.route.model.id}
