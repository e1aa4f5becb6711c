"""``POST /v1/images/edits``: multipart as the openai SDK sends it, or JSON with URLs / data URIs.

Every check (mask, image count, format, bytes, sides, aspect ratio) runs before
anything is sent upstream; the images then take the same path as generations,
through :meth:`ImageService.run`.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State

from gateway.auth import require_client_key
from gateway.image_params import auto_size, check_n, check_prompt, is_auto
from gateway.images import ImageService
from gateway.jobs_api import prefers_async, submit_job
from gateway.multipart import read_form
from gateway.references import Reference, check_count, prepare_references, require_edits
from gateway.routing import Route
from gateway.schemas import ImageOptions, _param_of, decode_request
from gateway.serving import CLIENT_CLOSED, LARGE_BODY_BYTES, json_response, serve_images, served_headers
from providers.base import ImageSpec
from providers.errors import InvalidRequest, UnsupportedParameter

__all__ = ["EditRequest", "edit_spec", "images_edits", "json_references"]

class EditRequest(ImageOptions, kw_only=True):
    stream: bool | None = None
    # JSON bodies carry images here: a URL or data URI, a list of them, or OpenAI's
    # ``images: [{"image_url": ...}]``.
    image: Any = None
    images: Any = None
    mask: Any = None


def _json_reference(value: Any, index: int) -> Reference:
    label = f"image {index}"
    if isinstance(value, str):
        return Reference(label, uri=value)
    if isinstance(value, dict):
        url = value.get("image_url", value.get("url"))
        if isinstance(url, dict):
            url = url.get("url")
        if isinstance(url, str):
            return Reference(label, uri=url)
        if "file_id" in value:
            raise UnsupportedParameter(f"{label}: file_id references are not supported; send image_url",
                                       param="image")
    raise InvalidRequest(f"{label} must be a URL, a data: URI or {{\"image_url\": ...}}", param="image",
                         code="invalid_image")


def json_references(req: EditRequest) -> list[Reference]:
    refs: list[Reference] = []
    for value in (req.image, req.images):
        items = value if isinstance(value, list) else [] if value is None else [value]
        for item in items:
            refs.append(_json_reference(item, len(refs) + 1))
    return refs


async def _read(request: Request[Any, Any, Any]) -> tuple[EditRequest, list[Reference], bool]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await read_form(request)
        try:
            # strict=False: form fields are text ("2", "true") where the schema says int or bool.
            req = msgspec.convert(form.fields, EditRequest, strict=False)
        except msgspec.ValidationError as exc:
            raise _validation_error(exc) from None
        return req, form.images, form.mask
    if media_type in ("application/json", ""):
        req = decode_request(await request.body(), EditRequest)
        return req, json_references(req), req.mask not in (None, "", [], {})
    raise InvalidRequest(f"Unsupported Content-Type {media_type!r}: send multipart/form-data or application/json")


def _validation_error(exc: msgspec.ValidationError) -> InvalidRequest:
    return InvalidRequest(f"Invalid request: {exc}", param=_param_of(exc))


async def edit_spec(
    service: ImageService, req: EditRequest, refs: list[Reference], mask: bool
) -> tuple[ImageSpec, list[Route]]:
    """The request as an ImageSpec, checked against the model it will go to (and its targets)."""
    """The checked request, ready for :meth:`ImageService.run`. Raises InvalidRequest."""
    if mask:
        # No DashScope edit model takes an OpenAI mask (transparent = edit here); ignoring it
        # would silently edit the whole image.
        raise UnsupportedParameter(
            "'mask' is not supported: the edit models here take no OpenAI-style mask. "
            "Describe the region to change in the prompt instead",
            param="mask",
        )
    if req.stream:
        raise UnsupportedParameter("Streaming edits (partial images) are not supported", param="stream")
    n = check_n(req.n)
    check_prompt(req.prompt)
    name = service.router.canonical(req.model)
    routes = service.router.candidates(req.model)
    info = routes[0].model
    require_edits(info, name)
    if not refs:
        raise InvalidRequest("'image' is required: send one file as 'image' or several as 'image[]'",
                             param="image")
    check_count(info, name, len(refs), "image")
    prepared = await prepare_references(refs, info, param="image")
    size = auto_size(info, req.quality, prepared.last_size) if is_auto(req.size) else req.size
    spec = ImageSpec(prompt=req.prompt, n=n, size=size, quality=req.quality, style=req.style,
                     extras=req.extras(), images=prepared.uris)
    return spec, routes


@post("/v1/images/edits", status_code=200, request_max_body_size=LARGE_BODY_BYTES)
async def images_edits(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    require_client_key(request)
    service: ImageService = state.images
    req, refs, mask = await _read(request)
    spec, routes = await edit_spec(service, req, refs, mask)
    if prefers_async(request):
        return await submit_job(request, req.model, spec, req.response_format or "url", routes)
    served = await serve_images(request, service, req.model, spec, req.response_format or "url", routes)
    if served is None:
        return Response(b"", status_code=CLIENT_CLOSED)
    return json_response(served.response, served_headers(served))
