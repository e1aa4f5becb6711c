"""``POST /v1/responses``: the image subset of the Responses API, and text models proxied.

* ``model`` is a text model of an OpenAI-compatible provider: the request goes there
  as it is, streaming included.
* ``model`` is an image model, or ``tools`` has ``image_generation``: the gateway
  answers itself with ``image_generation_call`` items (the tool's ``model``, else
  ``gpt-image-1``, makes the image when ``model`` is a text model not served here).
* Anything else is a 404 naming the model.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State

from gateway.http.auth import require_client_key
from gateway.http.responses import CLIENT_CLOSED, LARGE_BODY_BYTES
from gateway.http.sse import event, typed_error_event, work_events
from gateway.routes.chat_proxy import proxy_chat
from gateway.routes.run import event_stream, json_body, serve_images, served_headers
from gateway.service.images import ImageService, Served
from gateway.service.plan import plan_images
from gateway.service.responses import ResponseDraft, image_tool, responses_ask
from gateway.service.routing import Route
from gateway.wire.responses import ResponsesRequest
from providers.errors import ApiError, ModelNotFound

__all__ = ["RESPONSE_ROUTES", "create_response"]

#: The image model a Responses request with the image tool gets when neither names one.
TOOL_MODEL = "gpt-image-1"


def _routes(service: ImageService, model: str | None) -> list[Route] | None:
    try:
        return service.router.candidates(model)
    except ModelNotFound:
        return None


@post("/v1/responses", status_code=200, request_max_body_size=LARGE_BODY_BYTES)
async def create_response(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    require_client_key(request)
    service: ImageService = state.images
    body, req = await json_body(request, ResponsesRequest)
    tool = image_tool(req)
    # No model: the tool's decides (else the default image model).
    routes = _routes(service, req.model) if req.model or tool is None or tool.model is None else None
    if routes is not None and routes[0].model.kind == "chat" and tool is None:
        stream = bool(req.stream)
        return await proxy_chat(
            request, service, routes[0], body, requested=req.model, stream=stream, resource="responses"
        )
    if routes is not None and routes[0].model.kind == "chat":
        routes = None  # a text model with the image tool: the tool makes the image, here
    if routes is not None:
        model = req.model or routes[0].model.id
    elif tool is not None:
        model = tool.model or TOOL_MODEL
    else:
        raise ModelNotFound(
            f"The model '{req.model}' is not served here. /v1/responses answers image requests (an image "
            "model, or the image_generation tool) and proxies the text models of OpenAI-compatible providers",
            param="model",
        )
    ask = responses_ask(req, tool, model, body)
    plan = await plan_images(service, ask, routes)
    action = "edit" if plan.spec.images else "generate"
    draft = ResponseDraft(req, req.model or plan.routes[0].model.id, plan.spec.n, action)
    route = plan.routes[0]
    if req.stream:

        def work() -> Coroutine[Any, Any, Served]:
            return service.run(plan)

        def closing(served: Served) -> list[bytes]:
            return draft.closing(served.response, event)

        return event_stream(work_events(work, draft.opening(event), closing, on_error=typed_error_event), route)
    served = await serve_images(request, service, plan)
    if served is None:
        return Response(b"", status_code=CLIENT_CLOSED)
    if not served.response.data:
        raise ApiError("The upstream made no image", code="no_image")  # never a completed Response without one
    return Response(
        msgspec.json.encode(draft.done(served.response)),
        media_type="application/json",
        headers=served_headers(served),
    )


RESPONSE_ROUTES = [create_response]
