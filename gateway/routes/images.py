"""The images resource: ``POST /v1/images/generations``, ``/v1/images/edits`` and ``/v1/images/variations``.

Edits arrive as multipart, as the openai SDK sends them, or as JSON with URLs or
``data:`` URIs. Every check (image count, format, bytes, sides, aspect
ratio) runs before anything is sent upstream; then edits take the same path as
generations, through :meth:`ImageService.run`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State

from gateway.http.auth import require_client_key
from gateway.http.headers import header
from gateway.http.multipart import read_form
from gateway.http.responses import CLIENT_CLOSED, LARGE_BODY_BYTES, json_response
from gateway.routes.image_stream import image_stream
from gateway.routes.jobs import accept_webhook, prefers_async, submit_job
from gateway.routes.run import json_body, serve_images, served_headers
from gateway.service.ask import ImageAsk
from gateway.service.images import ImageService
from gateway.service.output import Output
from gateway.service.plan import Plan, plan_images
from gateway.service.references import json_mask, json_references
from gateway.service.specs import edit_ask, generation_ask
from gateway.wire.decode import FORM_TYPES, convert_form, media_type
from gateway.wire.images import EditRequest, ImageGenerationRequest, VariationRequest
from providers.errors import InvalidRequest, UnsupportedContentType, UnsupportedParameter

__all__ = ["IMAGE_ROUTES", "images_edits", "images_generations", "images_variations"]


@post("/v1/images/generations", status_code=200)
async def images_generations(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    require_client_key(request)
    service: ImageService = state.images
    body, req = await json_body(request, ImageGenerationRequest)
    webhook = await accept_webhook(request, req.webhook_url, req.stream)
    ask = generation_ask(req, body)
    return await _answer(request, service, await plan_images(service, ask), "image_generation", webhook)


async def _answer(
    request: Request[Any, Any, Any], service: ImageService, plan: Plan, kind: str, webhook: str | None = None
) -> Response[Any]:
    """The images now, streamed, or (``Prefer: respond-async``) a job that makes them."""
    if plan.output.stream:
        return image_stream(service, plan, kind)
    if prefers_async(request):
        return await submit_job(request, plan, webhook)
    served = await serve_images(request, service, plan)
    if served is None:
        return Response(b"", status_code=CLIENT_CLOSED)
    return json_response(served.response, served_headers(served))


async def _read(request: Request[Any, Any, Any]) -> tuple[ImageAsk, str | None]:
    """The edit, and its webhook once accepted (before any input image is looked at)."""
    if media_type(header(request.scope, b"content-type") or "") in FORM_TYPES:
        form = await read_form(request)
        edit = convert_form(form.fields, EditRequest)
        webhook = await accept_webhook(request, edit.webhook_url, edit.stream)
        return edit_ask(edit, form.images, form.mask, form.fields), webhook
    body, edit = await json_body(request, EditRequest)
    webhook = await accept_webhook(request, edit.webhook_url, edit.stream)
    return edit_ask(edit, json_references(edit), json_mask(edit), body), webhook


@post("/v1/images/edits", status_code=200, request_max_body_size=LARGE_BODY_BYTES)
async def images_edits(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    require_client_key(request)
    service: ImageService = state.images
    ask, webhook = await _read(request)
    return await _answer(request, service, await plan_images(service, ask), "image_edit", webhook)


@post("/v1/images/variations", status_code=200, request_max_body_size=LARGE_BODY_BYTES)
async def images_variations(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    """DALL-E 2's variations, made by the configured image-to-image model with its fixed prompt."""
    require_client_key(request)
    service: ImageService = state.images
    kind = media_type(request.headers.get("content-type", ""))
    if kind not in FORM_TYPES:
        raise UnsupportedContentType(f"Unsupported Content-Type {kind!r}: send multipart/form-data")
    form = await read_form(request)
    req = convert_form(form.fields, VariationRequest)
    webhook = await accept_webhook(request, req.webhook_url, None)
    if form.mask is not None:
        raise UnsupportedParameter("'mask' is not a variation parameter", param="mask")
    refs = form.images
    if len(refs) != 1:
        raise InvalidRequest(f"A variation takes exactly one image, got {len(refs)}", param="image")
    settings = service.config.variations
    ask = ImageAsk(
        settings.model,
        settings.prompt,
        req.n,
        req.size or "1024x1024",  # DALL-E 2's default
        None,
        None,
        form.fields,
        references=refs,
        needs_references=True,
        output=Output(response_format=req.response_format or "url"),
    )
    return await _answer(request, service, await plan_images(service, ask), "image_variation", webhook)


IMAGE_ROUTES = [images_generations, images_edits, images_variations]
