"""Who is calling: gateway API keys (what each may use, and how often) and the admin key.

Keys are kept only as sha256 digests; a presented key is hashed and compared
with every stored digest in constant time, so timing tells nothing.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Request

from gateway.http.headers import header
from gateway.observability.context import current_request
from gateway.settings import GatewayConfig
from gateway.state import LocalState, SharedState
from providers.errors import AuthenticationError, PermissionDenied, RateLimited

__all__ = [
    "CONSOLE_SESSION",
    "ClientKey",
    "ConsoleCaller",
    "KeyRing",
    "bearer_token",
    "console_caller",
    "require_admin",
    "require_client_key",
]

WINDOW_SECONDS = 60.0
#: The ASGI scope entry where gateway/console puts the caller of a request that carried a
#: console session cookie AND its CSRF token (never the cookie alone: that would be CSRF-able).
CONSOLE_SESSION = "gateway.console_session"


@dataclass(frozen=True, slots=True)
class ConsoleCaller:
    """Who a console session is: a client key's name (None on a gateway without keys) or the admin."""

    client: str | None
    admin: bool = False


class ClientRateLimited(RateLimited):
    """This client key's own limit: unlike upstream 429s, the SDK may retry after the delay."""

    final = False


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


@dataclass(frozen=True, slots=True)
class ClientKey:
    name: str
    digest: bytes
    models: tuple[str, ...] = ("*",)
    rpm: int | None = None
    max_n: int | None = None
    #: Hosts this key's jobs may call back, besides ``webhooks.allowed_hosts``.
    webhook_hosts: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"ClientKey({self.name!r})"

    def may_use(self, names: Iterable[str]) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for name in names for pattern in self.models)


class KeyRing:
    def __init__(self, config: GatewayConfig, state: SharedState | None = None) -> None:
        keys = [ClientKey(f"key-{secret.fingerprint()}", _digest(secret.reveal())) for secret in config.api_keys]
        keys += [
            ClientKey(k.name, _digest(k.key.reveal()), k.models, k.rpm, k.max_n, k.webhook_hosts) for k in config.keys
        ]
        self.keys = keys
        self.admin_digest = _digest(config.admin_key.reveal()) if config.admin_key else None
        self.state: SharedState = state or LocalState()

    def named(self, name: str | None) -> ClientKey | None:
        """The key called ``name`` (a job's owner, looked up again when its webhook is sent)."""
        return next((key for key in self.keys if key.name == name), None) if name else None

    @property
    def open(self) -> bool:
        """No keys configured: anyone may call (the CLI allows that only on loopback)."""
        return not self.keys

    def authenticate(self, authorization: str | None) -> ClientKey | None:
        if self.open:
            return None
        token = bearer_token(authorization)
        if token is None:
            raise AuthenticationError("Missing API key: send 'Authorization: Bearer <key>'")
        digest = _digest(token)
        found = None
        for key in self.keys:  # no early exit: every request costs the same
            if hmac.compare_digest(key.digest, digest):
                found = key
        if found is None:
            raise AuthenticationError("Incorrect API key provided")
        return found

    def is_admin(self, authorization: str | None) -> bool:
        token = bearer_token(authorization)
        return bool(self.admin_digest and token and hmac.compare_digest(self.admin_digest, _digest(token)))

    async def authorize(self, client: ClientKey | None, names: Iterable[str], n: int) -> None:
        """Raise 403 or 429 when this key may not make this request now."""
        if client is None:
            return
        names = list(names)
        if not client.may_use(names):
            raise PermissionDenied(
                f"This API key may not use model '{names[0]}'", param="model", code="model_not_allowed"
            )
        if client.max_n is not None and n > client.max_n:
            raise PermissionDenied(
                f"This API key may ask for at most {client.max_n} images", param="n", code="n_not_allowed"
            )
        if client.rpm is not None:
            wait = await self.state.admit(f"key/{client.name}", client.rpm, WINDOW_SECONDS)
            if wait is not None:
                raise ClientRateLimited(
                    f"This API key is limited to {client.rpm} requests per minute", retry_after=wait
                )


def console_caller(scope: Any) -> ConsoleCaller | None:
    """The console session gateway/console found on this request (cookie and CSRF token checked)."""
    found = scope.get(CONSOLE_SESSION)
    return found if isinstance(found, ConsoleCaller) else None


def require_client_key(request: Request[Any, Any, Any]) -> ClientKey | None:
    """The calling key (None when no keys are configured); raises 401.

    Called by each API handler rather than as a Litestar guard: guards copy the
    route handler on every request, which showed up in profiles. What the key may
    do (models, n, requests per minute) is checked where the model is known.
    """
    ring: KeyRing = request.app.state.keyring
    authorization = header(request.scope, b"authorization")
    caller = None if authorization else console_caller(request.scope)
    if caller is not None and not caller.admin and not ring.open:
        # A console session counts as its key: same models, limits and ledger name.
        client = ring.named(caller.client)
        if client is None:
            raise AuthenticationError("This console session's key is no longer configured: log in again")
    else:
        client = ring.authenticate(authorization)
    ctx = current_request()
    if ctx is not None and client is not None:
        ctx.client = client.name
        ctx.client_key = client
    return client


def require_admin(request: Request[Any, Any, Any]) -> None:
    ring: KeyRing = request.app.state.keyring
    if ring.admin_digest is None:
        raise AuthenticationError("Admin endpoints are disabled: set GATEWAY_ADMIN_KEY (or admin_key in the config)")
    authorization = request.headers.get("authorization")
    caller = None if authorization else console_caller(request.scope)
    if caller is not None and caller.admin:
        return
    if not ring.is_admin(authorization):
        raise AuthenticationError("This endpoint needs the admin key")
