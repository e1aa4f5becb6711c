"""What the edits and chat handlers share: running an image request for a client who may leave."""

from __future__ import annotations

from typing import Any

from litestar import Request

from gateway.images import ImageService, Served
from providers.base import ImageSpec

__all__ = ["CLIENT_CLOSED", "LARGE_BODY_BYTES", "serve_images", "served_headers"]

#: Routes that carry input images: 9 images of 20 MiB (wan2.7's limits) as base64 data
#: URIs in JSON (x4/3), plus the rest of the body. Other routes keep the app's 10 MiB.
LARGE_BODY_BYTES = 256 * 1024 * 1024
#: Nginx's "client closed request", as gateway.api answers it.
CLIENT_CLOSED = 499


async def serve_images(
    request: Request[Any, Any, Any], service: ImageService, model: str | None, spec: ImageSpec, fmt: str
) -> Served | None:
    """:meth:`ImageService.run`, cancelled if the client leaves (None then)."""
    # Imported here: gateway.api lists the handlers that use this, so a module-level
    # import would be circular.
    from gateway.api import ClientGone, unless_client_leaves, wants_cache

    try:
        return await unless_client_leaves(request, service.run(model, spec, fmt, use_cache=wants_cache(request)))
    except ClientGone:
        return None


def served_headers(served: Served) -> dict[str, str]:
    return {"x-gateway-provider": served.route.target.name, "x-gateway-model": served.route.model.id}
