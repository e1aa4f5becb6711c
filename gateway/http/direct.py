"""The API's POST routes, called without Litestar's per-request machinery.

Litestar resolves the route, wraps ``send`` for its exception middleware, builds the
handler's keyword arguments through a signature model and converts the return value;
for handlers that take only ``(request, state)`` and return a Response, that cost a
tenth of a millisecond a request, as much as everything else Litestar does. These
routes are looked up in a dict and called directly with the same Request, the same
route handler in the scope (so body limits and form parsing read the same settings),
the same host check and the same exception handlers. Every other route, any method
other than the handler's, and the lifespan go through Litestar as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from litestar import Litestar, MediaType, Request, Response
from litestar._asgi.utils import is_valid_host
from litestar.exceptions import ClientException
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.types import Receive, Scope, Send

__all__ = ["DirectRoutes"]

ExceptionHandlers = Mapping[type, Callable[..., Response[Any]]]


class DirectRoutes:
    def __init__(
        self,
        app: Litestar,
        routes: Iterable[tuple[str, str]],
        exception_handlers: ExceptionHandlers,
    ) -> None:
        """``routes``: (method, path) pairs of handlers registered on ``app``."""
        self.app = app
        self.exception_handlers = exception_handlers
        registered: dict[tuple[str, str], HTTPRouteHandler] = {
            (str(method), route.path): handler
            for route in app.routes
            if isinstance(route, HTTPRoute)
            for method, (handler, _) in route.route_handler_map.items()
        }
        self._routes: dict[tuple[str, str], HTTPRouteHandler] = {}
        for method, path in routes:
            handler = registered[(method, path)]
            # Only handlers Litestar would add nothing to: no guards, hooks, dependencies,
            # response headers or cookies, and exactly the (request, state) parameters.
            plain = (
                not handler.resolve_guards()
                and not handler.resolve_dependencies()
                and handler.resolve_before_request() is None
                and handler.resolve_after_response() is None
                and not handler.resolve_response_headers()
                and not handler.resolve_response_cookies()
                and set(handler.parsed_fn_signature.parameters) == {"request", "state"}
            )
            if not plain:
                raise ValueError(f"{method} {path} needs Litestar's own handling")
            self._routes[(method, path)] = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw: Any = scope
        handler = self._routes.get((raw["method"], raw["path"])) if raw["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
        else:
            await self._call(handler, scope, receive, send)

    async def _call(self, handler: HTTPRouteHandler, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app
        scope["app"] = scope["litestar_app"] = app
        scope.setdefault("state", {})
        scope.setdefault("path_params", {})
        scope["route_handler"] = handler
        request: Request[Any, Any, Any] = Request(scope, receive, send)
        try:
            host = next((value for name, value in scope["headers"] if name == b"host"), None)
            if host is not None and not is_valid_host(host):
                raise ClientException("Invalid host header")
            response = await handler.fn(request=request, state=app.state)
            # The handler's own status and media type fill in what the response leaves unset.
            status = response.status_code or handler.status_code
            answer = None
            if not _plain_json(response):
                answer = response.to_asgi_response(
                    app=None, request=request, status_code=handler.status_code, media_type=handler.media_type
                )
        except Exception as exc:
            response = self._handler_for(exc)(request, exc)
            status = response.status_code
            answer = None if _plain_json(response) else response.to_asgi_response(app=None, request=request)
        if answer is None:
            await _send_json(response, status, send)
        else:
            await answer(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Callable[..., Response[Any]]:
        for cls in type(exc).__mro__:
            found = self.exception_handlers.get(cls)
            if found is not None:
                return found
        raise exc  # EXCEPTION_HANDLERS holds Exception itself: not reached


def _plain_json(response: Response[Any]) -> bool:
    """A JSON body already encoded, with nothing for Litestar's response layer to add."""
    return (
        type(response) is Response
        and type(response.content) is bytes
        and response.media_type == MediaType.JSON
        and not response.cookies
        and response.background is None
    )


async def _send_json(response: Response[Any], status: int, send: Send) -> None:
    # The messages Litestar's ASGIResponse sends for such a body (its header order too), for
    # a tenth of its cost: it showed as 4% of a request's CPU.
    body: bytes = response.content
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.headers.items()]
    headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(body)).encode()))
    start: Any = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    message: Any = {"type": "http.response.body", "body": body, "more_body": False}
    await send(message)
