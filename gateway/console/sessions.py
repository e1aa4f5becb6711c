"""Console logins: a random session id in an HttpOnly cookie, what it stands for in shared state.

The cookie holds only the id. Shared state holds, under the id's sha256 (so reading Redis
gives no usable cookie), the key's NAME or the admin flag and the session's CSRF token:
never a key or a key's digest. Kept in shared state, a login works on every replica and
ends everywhere at logout or after its TTL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import msgspec

from gateway.http.auth import ConsoleCaller
from gateway.state import SharedState

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "Session",
    "SessionStore",
    "cookie_value",
    "same_token",
]

SESSION_COOKIE = "gw_console"
#: The login form's double-submit token (no session exists yet to hold one).
LOGIN_COOKIE = "gw_console_login"
#: Longest cookie value read: ids are 43 characters; anything longer is not ours.
MAX_COOKIE_CHARS = 128


class Session(msgspec.Struct, frozen=True):
    client: str | None
    admin: bool
    csrf: str
    created: float

    @property
    def caller(self) -> ConsoleCaller:
        return ConsoleCaller(self.client, self.admin)


def _state_key(session_id: str) -> str:
    return "console-session/" + hashlib.sha256(session_id.encode()).hexdigest()


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest((given or "").encode(), expected.encode())


class SessionStore:
    def __init__(self, state: SharedState, ttl: float) -> None:
        self.state = state
        self.ttl = ttl

    async def create(self, client: str | None, admin: bool) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        session = Session(client, admin, secrets.token_urlsafe(32), time.time())
        await self.state.put(_state_key(session_id), msgspec.json.encode(session), self.ttl)
        return session_id, session

    async def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > MAX_COOKIE_CHARS:
            return None
        raw = await self.state.get(_state_key(session_id))
        if raw is None:
            return None
        try:
            return msgspec.json.decode(raw, type=Session)
        except msgspec.DecodeError:
            return None

    async def delete(self, session_id: str) -> None:
        await self.state.delete(_state_key(session_id))


def cookie_value(header: str | None, name: str) -> str | None:
    """One cookie's value from a Cookie header (the first one of that name)."""
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value[:MAX_COOKIE_CHARS] or None
    return None
