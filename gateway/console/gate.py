"""Lets the console's own fetch() calls use the OpenAI API routes as the logged-in key.

An ASGI wrapper (the session lookup is async; the handlers' key check is not): a request to
/v1/* or /admin/* with no Authorization header, a session cookie, an ``X-CSRF-Token`` header
equal to that session's token and a same-origin browser context gets the session's caller
in its scope, which gateway/http/auth.py reads. Anything short of all of that is left as it
came (a 401 as before). Requests with Authorization are not looked at: the Bearer path stays
as it was.
"""

from __future__ import annotations

from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.console.guard import header, same_origin
from gateway.console.sessions import SESSION_COOKIE, SessionStore, cookie_value, same_token
from gateway.http.auth import CONSOLE_SESSION
from gateway.runtime import Runtime

__all__ = ["ConsoleGate"]

_API_PREFIXES = ("/v1/", "/admin/")


class ConsoleGate:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(_API_PREFIXES):  # type: ignore[comparison-overlap]
            await self._attach(scope)
        await self.app(scope, receive, send)

    async def _attach(self, scope: Any) -> None:
        if header(scope, b"authorization") is not None:
            return
        token = header(scope, b"x-csrf-token")
        session_id = cookie_value(header(scope, b"cookie"), SESSION_COOKIE)
        if not token or not session_id or self.runtime.shared is None or not same_origin(scope):
            return
        store = SessionStore(self.runtime.shared, self.runtime.config.console.session_ttl_seconds)
        session = await store.get(session_id)
        if session is not None and same_token(token, session.csrf):
            scope[CONSOLE_SESSION] = session.caller
