"""Client authentication with gateway API keys."""

from __future__ import annotations

from typing import Any

from litestar import Request

from providers.errors import AuthenticationError
from providers.secret import Secret

__all__ = ["bearer_token", "require_client_key"]


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def require_client_key(request: Request[Any, Any, Any]) -> None:
    """Raise 401 unless the request carries a configured client key.

    Called by each API handler rather than as a Litestar guard: guards copy the
    route handler on every request, which showed up in profiles.
    """
    keys: tuple[Secret, ...] = request.app.state.client_keys
    if not keys:
        return  # only allowed while bound to loopback; the CLI enforces that
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise AuthenticationError("Missing API key: send 'Authorization: Bearer <key>'")
    # Check every key so the time taken does not tell which one came close.
    if not any([key.matches(token) for key in keys]):
        raise AuthenticationError("Incorrect API key provided")
