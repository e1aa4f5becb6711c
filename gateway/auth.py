"""Who is calling: client keys for the API, the admin key for /admin."""

from __future__ import annotations

from typing import Any

from litestar import Request

from gateway.clients import ClientKey, KeyRing
from gateway.context import current_request
from providers.errors import AuthenticationError

__all__ = ["require_admin", "require_client_key"]


def require_client_key(request: Request[Any, Any, Any]) -> ClientKey | None:
    """The calling key (None when no keys are configured); raises 401.

    Called by each API handler rather than as a Litestar guard: guards copy the
    route handler on every request, which showed up in profiles. What the key may
    do (models, n, requests per minute) is checked where the model is known.
    """
    ring: KeyRing = request.app.state.keyring
    client = ring.authenticate(request.headers.get("authorization"))
    ctx = current_request()
    if ctx is not None and client is not None:
        ctx.client = client.name
        ctx.client_key = client
    return client


def require_admin(request: Request[Any, Any, Any]) -> None:
    ring: KeyRing = request.app.state.keyring
    if ring.admin_digest is None:
        raise AuthenticationError("Admin endpoints are disabled: set GATEWAY_ADMIN_KEY (or admin_key in the config)")
    if not ring.is_admin(request.headers.get("authorization")):
        raise AuthenticationError("This endpoint needs the admin key")
