"""``POST /v1/chat/completions``: images from image models (plain or streamed), text models proxied.

Streaming an image: the role chunk at once, an SSE comment every 10 s while the
image is made (so idle-timeout proxies keep the connection), then the images and
their markdown, ``finish_reason: "stop"`` and ``[DONE]``. Anything wrong with the
request is an HTTP error before the stream starts; a failure after it started is
an error event, and the stream ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.response import Stream

from gateway.http.auth import require_client_key
from gateway.http.responses import CLIENT_CLOSED, LARGE_BODY_BYTES
from gateway.http.sse import DONE, HEADERS, KEEPALIVE_SECONDS, error_event, event, keepalive_until
from gateway.observability.context import current_request
from gateway.routes.chat_proxy import proxy_chat
from gateway.routes.run import serve_images, served_headers
from gateway.service.chat_images import ChatJob, Reply, chat_ask, chat_job, completion, final_chunks, opening_chunks
from gateway.service.images import ImageService, Served
from gateway.service.plan import Plan, plan_images
from gateway.wire.chat import ChatHead, ChatRequest
from gateway.wire.decode import decode_request, require_json
from providers.errors import ApiError

__all__ = ["CHAT_ROUTES", "chat_completions", "image_chat_events"]

log = logging.getLogger(__name__)


def _markdown_default(service: ImageService) -> bool:
    return service.config.chat.markdown_images


def _retrieve(task: asyncio.Future[Any]) -> None:
    # A task dropped by a departed client must not log "exception was never retrieved".
    if not task.cancelled():
        task.exception()


async def image_chat_events(
    work: Callable[[], Coroutine[Any, Any, Served]],
    reply: Reply,
    job: ChatJob,
    *,
    keepalive: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[bytes]:
    """The SSE body of a streamed image chat. ``work`` is started when the stream is."""
    task = asyncio.ensure_future(work())
    task.add_done_callback(_retrieve)
    try:
        for chunk in opening_chunks(reply, job.n):
            yield event(chunk)
        async for beat in keepalive_until(task, keepalive):
            yield beat
        served = task.result()
    except ApiError as err:
        ctx = current_request()
        if ctx is not None:
            ctx.error_code = err.code
        yield error_event(err)
        return
    except Exception:
        log.exception("streamed image chat failed")
        yield error_event(ApiError("The gateway hit an internal error", code="internal_error"))
        return
    finally:
        # The client left (the stream was cancelled) or the image failed: stop the upstream work.
        if not task.done():
            task.cancel()
    for chunk in final_chunks(reply, served.response, job):
        yield event(chunk)
    yield DONE


def _stream(service: ImageService, plan: Plan, job: ChatJob, reply: Reply) -> Stream:
    route = plan.routes[0]

    def work() -> Coroutine[Any, Any, Served]:
        return service.run(plan)

    headers = {**HEADERS, "x-gateway-provider": route.target.name, "x-gateway-model": route.model.id}
    return Stream(image_chat_events(work, reply, job), media_type="text/event-stream", headers=headers)


@post("/v1/chat/completions", status_code=200, request_max_body_size=LARGE_BODY_BYTES)
async def chat_completions(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    require_client_key(request)
    service: ImageService = state.images
    require_json(request.headers.get("content-type", ""))
    body = await request.body()
    head = decode_request(body, ChatHead)
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
