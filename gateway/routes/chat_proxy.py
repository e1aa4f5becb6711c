"""Chat requests for text models, proxied as they are to the OpenAI-compatible provider serving them.

One ``base_url`` then serves an app's text and image calls. The body goes upstream
unchanged but for the model name; the answer comes back unchanged, streamed as it
arrives. Upstream errors become gateway errors (a rejected provider key is never
passed on as the client's own 401).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from litestar import Request, Response
from litestar.response import Stream

from gateway.engine.proxy import open_stream
from gateway.engine.transport import translate_transport_errors
from gateway.http.disconnect import ClientGone, unless_client_leaves
from gateway.http.responses import CLIENT_CLOSED
from gateway.http.sse import HEADERS, error_event
from gateway.observability.context import current_request
from gateway.service.images import ImageService
from gateway.service.routing import Route
from providers.base import ChatProxy, HttpResponse
from providers.errors import ApiError, InvalidRequest

__all__ = ["proxy_chat"]

log = logging.getLogger(__name__)

#: An error body worth reading; past this it is not an error message.
MAX_ERROR_BODY = 1024 * 1024
_closing: set[asyncio.Task[None]] = set()


def _close_later(response: httpx.Response) -> None:
    # Not awaited in place: on a client disconnect the stream is cancelled, and any await
    # in its cleanup would be cancelled too, leaving the pooled connection unreleased.
    task = asyncio.ensure_future(response.aclose())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def _relay(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        with translate_transport_errors("chat stream"):
            async for chunk in response.aiter_bytes():
                yield chunk
    except ApiError as err:
        yield error_event(err)
    finally:
        _close_later(response)


async def _read_error(response: httpx.Response) -> HttpResponse:
    body = b""
    try:
        with translate_transport_errors("chat error body"):
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_ERROR_BODY:
                    break
    except ApiError:
        pass  # the status alone still says what happened
    finally:
        _close_later(response)
    return HttpResponse(response.status_code, response.headers, body[:MAX_ERROR_BODY])


async def _admit(service: ImageService, route: Route, requested: str | None) -> None:
    ctx = current_request()
    if ctx is not None:
        ctx.model, ctx.provider = route.model.id, route.target.name
        ctx.requested_model = requested
    # The client key's model list and rate apply to chat models as to image models.
    names = {requested or route.model.id, route.model.id}
    await service.keyring.authorize(ctx.client_key if ctx else None, names, 1)


async def proxy_chat(
    request: Request[Any, Any, Any],
    service: ImageService,
    route: Route,
    body: bytes,
    *,
    requested: str | None,
    stream: bool,
    resource: str = "chat/completions",
) -> Response[Any]:
    """The upstream's answer to the client's body at ``resource`` (chat/completions, responses)."""
    adapter = route.target.adapter
    if not isinstance(adapter, ChatProxy):
        raise InvalidRequest(f"Provider '{route.target.name}' does not proxy chat", param="model")
    await _admit(service, route, requested)
    outgoing = adapter.chat_request(route.model.upstream_name, body, stream=stream, resource=resource)
    upstream = service.engine.upstream
    timeout = route.target.read_timeout or service.config.upstream.read_timeout
    headers = {"x-gateway-provider": route.target.name, "x-gateway-model": route.model.id}
    if not stream:
        try:
            answer = await unless_client_leaves(
                request, upstream.send(outgoing, route.target.api_key, read_timeout=timeout)
            )
        except ClientGone:
            return Response(b"", status_code=CLIENT_CLOSED)
        if answer.status >= 400:
            raise adapter.chat_error(answer)
        return Response(answer.body, status_code=200, media_type="application/json", headers=headers)
    response = await open_stream(upstream, outgoing, route.target.api_key, read_timeout=timeout)
    if response.status_code >= 400:
        # Before the stream starts, an error is a plain HTTP error.
        raise adapter.chat_error(await _read_error(response))
    return Stream(_relay(response), media_type="text/event-stream", headers={**HEADERS, **headers})
