"""Route handlers: decode, call a service, encode. Nothing else lives here."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State

from gateway.auth import require_client_key
from gateway.chat import chat_completions
from gateway.edits import images_edits
from gateway.images import ImageService
from gateway.jobs_api import prefers_async, submit_job
from gateway.models_api import list_models, retrieve_model
from gateway.schemas import ImageGenerationRequest, decode_request
from gateway.serving import CLIENT_CLOSED, json_response, serve_images, served_headers

__all__ = ["ROUTES"]

@post("/v1/images/generations", status_code=200)
async def images_generations(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    require_client_key(request)
    service: ImageService = state.images
    body = decode_request(await request.body(), ImageGenerationRequest)
    spec, response_format = service.spec_of(body), body.response_format or "url"
    if prefers_async(request):
        return await submit_job(request, body.model, spec, response_format)
    served = await serve_images(request, service, body.model, spec, response_format)
    if served is None:
        return Response(b"", status_code=CLIENT_CLOSED)
    return json_response(served.response, served_headers(served))


ROUTES = [images_generations, images_edits, chat_completions, list_models, retrieve_model]
