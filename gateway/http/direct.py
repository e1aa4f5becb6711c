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

from litestar import Litestar, Request, Response
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
            answer = response.to_asgi_response(app=None, request=request)
        except Exception as exc:
            answer = self._handler_for(exc)(request, exc).to_asgi_response(app=None, request=request)
        await answer(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Callable[..., Response[Any]]:
        for cls in type(exc).__mro__:
            found = self.exception_handlers.get(cls)
            if found is not None:
                return found
        raise exc  # EXCEPTION_HANDLERS holds Exception itself: not reached
