"""Building HTTP responses: JSON bodies with the request id, native error bodies."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Response
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from .errors import EmuError
from .wire import ErrorBody

JSON = "application/json"
_STATE_KEY = "emulator_request_id"


def request_id_of(scope: Scope) -> str:
    """The id of this request, shared by the ``X-Request-ID`` header and the body's ``request_id``."""
    state: dict[str, Any] = scope.setdefault("state", {})
    if _STATE_KEY not in state:
        state[_STATE_KEY] = str(uuid.uuid4())
    return str(state[_STATE_KEY])


def json_reply(body: Any, request_id: str, status: int = 200) -> Response[bytes]:
    return Response(
        msgspec.json.encode(body), status_code=status, media_type=JSON, headers={"X-Request-ID": request_id}
    )


def error_reply(err: EmuError, request_id: str) -> Response[bytes]:
    return json_reply(ErrorBody(err.code, err.message, request_id), request_id, err.status)


def request_id_header(app: ASGIApp) -> ASGIApp:
    """Adds ``X-Request-ID`` to every response that does not carry one yet (404s, downloads, control)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id_of(scope).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_id)

    return middleware
