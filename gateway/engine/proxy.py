"""Streaming passthrough for proxied chat: the upstream's answer, relayed as it arrives."""

from __future__ import annotations

import httpx

from gateway.engine.transport import Upstream, translate_transport_errors
from providers.base import HttpRequest
from providers.secret import Secret

__all__ = ["open_stream"]


async def open_stream(
    upstream: Upstream, request: HttpRequest, api_key: Secret | None, *, read_timeout: float
) -> httpx.Response:
    """Send ``request`` on the shared pool; the answer's status and headers are in, its body is not.

    ``read_timeout`` bounds each wait for the next chunk, not the whole stream. The
    caller reads the body (``aiter_bytes``) under :func:`translate_transport_errors`
    and must ``aclose()`` the response. Connection failures raise TransportError.
    """
    headers = dict(request.headers)
    if api_key:
        headers["Authorization"] = f"Bearer {api_key.reveal()}"
    # pool: the wait for a free connection, as long as the wait for an answer (not the connect timeout)
    timeout = httpx.Timeout(read_timeout, connect=upstream.connect_timeout, pool=read_timeout)
    outgoing = upstream.client.build_request(
        request.method, request.url, headers=headers, content=request.body, timeout=timeout
    )
    with translate_transport_errors(f"{request.method} {request.url.split('?')[0]}"):
        return await upstream.client.send(outgoing, stream=True)
