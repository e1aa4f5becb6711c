"""Client authentication with gateway API keys."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from providers.errors import AuthenticationError
from providers.secret import Secret

__all__ = ["bearer_token", "require_client_key"]


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def require_client_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    keys: tuple[Secret, ...] = connection.app.state.client_keys
    if not keys:
        return  # only allowed while bound to loopback; the CLI enforces that
    token = bearer_token(connection.headers.get("authorization"))
    if token is None:
        raise AuthenticationError("Missing API key: send 'Authorization: Bearer <key>'")
    # Check every key so the time taken does not tell which one came close.
    if not any([key.matches(token) for key in keys]):
        raise AuthenticationError("Incorrect API key provided")
