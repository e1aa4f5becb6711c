"""ASGI wrapper around the whole app: a request id on every response, 404s included."""

from __future__ import annotations

import os
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_ID_KEY", "RequestIdMiddleware", "request_id_of"]

REQUEST_ID_KEY = "gateway.request_id"


def request_id_of(scope: Any) -> str:
    return str(scope.get(REQUEST_ID_KEY, ""))


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        request_id = f"req_{os.urandom(16).hex()}"
        scope[REQUEST_ID_KEY] = request_id  # type: ignore[literal-required]
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
