"""``POST /v1/chat/completions``: images from image models (plain or streamed), text models proxied.

Streaming an image: the role chunk at once, an SSE comment every 10 s while the
image is made (so idle-timeout proxies keep the connection), then the images and
their markdown, ``finish_reason: "stop"`` and ``[DONE]``. Anything wrong with the
request is an HTTP error before the stream starts; a failure after it started is
an error event, and the stream ends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.response import Stream

from gateway.http.auth import require_client_key
from gateway.http.responses import CLIENT_CLOSED, LARGE_BODY_BYTES
from gateway.http.sse import DONE, KEEPALIVE_SECONDS, event, work_events
from gateway.routes.chat_proxy import proxy_chat
from gateway.routes.run import event_stream, json_body, serve_images, served_headers
from gateway.service.chat_images import ChatJob, Reply, chat_ask, chat_job, completion, final_chunks, opening_chunks
from gateway.service.images import ImageService, Served
from gateway.service.plan import Plan, plan_images
from gateway.wire.chat import ChatHead, ChatRequest
from gateway.wire.decode import decode_request

__all__ = ["CHAT_ROUTES", "chat_completions", "image_chat_events"]

log = logging.getLogger(__name__)


def _markdown_default(service: ImageService) -> bool:
    return service.config.chat.markdown_images


def image_chat_events(
    work: Callable[[], Coroutine[Any, Any, Served]],
    reply: Reply,
    job: ChatJob,
    *,
    keepalive: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[bytes]:
    """The SSE body of a streamed image chat. ``work`` is started when the stream is."""

    def closing(served: Served) -> list[bytes]:
        return [*(event(chunk) for chunk in final_chunks(reply, served.response, job)), DONE]

    opening = (event(chunk) for chunk in opening_chunks(reply, job.n))
    return work_events(work, opening, closing, keepalive=keepalive)


def _stream(service: ImageService, plan: Plan, job: ChatJob, reply: Reply) -> Stream:
    route = plan.routes[0]

    def work() -> Coroutine[Any, Any, Served]:
        return service.run(plan)

    return event_stream(image_chat_events(work, reply, job), route)


@post("/v1/chat/completions", status_code=200, request_max_body_size=LARGE_BODY_BYTES)
async def chat_completions(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    require_client_key(request)
    service: ImageService = state.images
    body, head = await json_body(request, ChatHead)
    routes = service.router.candidates(head.model)
    route = routes[0]
    if route.model.kind == "chat":
        return await proxy_chat(request, service, route, body, requested=head.model, stream=bool(head.stream))
    req = decode_request(body, ChatRequest)
    # Planned (and so checked) now, on the targets picked above, while an error can still be an HTTP status.
    plan = await plan_images(service, chat_ask(req, route, body), routes)
    job = chat_job(req, plan.spec.n, markdown_default=_markdown_default(service))
    reply = Reply.new(route.model.id)
    if req.stream:
        return _stream(service, plan, job, reply)
    served = await serve_images(request, service, plan)
    if served is None:
        return Response(b"", status_code=CLIENT_CLOSED)
    return Response(
        msgspec.json.encode(completion(reply, served.response, job)),
        media_type="application/json",
        headers=served_headers(served),
    )


CHAT_ROUTES = [chat_completions]
