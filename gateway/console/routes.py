"""The console's pages: login, playground, jobs, status (admin), and its two static files.

Pages are Jinja2 templates rendered here with autoescaping; the playground's work is done by
console.js calling the OpenAI API routes (gateway/console/gate.py lets its session in).
Every answer carries the strict CSP of guard.py; every POST needs the same origin and a
CSRF token; nothing rendered is a key (client keys appear by name, provider keys by fingerprint).
"""

from __future__ import annotations

import functools
import ipaddress
import secrets
import time
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.response import Redirect

from gateway.console.guard import SECURITY_HEADERS, is_https, same_origin
from gateway.console.sessions import LOGIN_COOKIE, SESSION_COOKIE, Session, SessionStore, same_token
from gateway.console.status import gather_status
from gateway.http.auth import KeyRing
from gateway.runtime import Runtime
from gateway.service.jobs import JobService
from providers.errors import AuthenticationError

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["CONSOLE_ROUTES", "address_bucket"]

#: Jobs the jobs page lists (each one's images are fetched by the page itself).
JOBS_SHOWN = 20
#: The login form is two short fields.
LOGIN_BODY_BYTES = 8 * 1024
LOGIN_FORM_SECONDS = 3600
LOGIN_FAILED = "Login failed: that key was not accepted."


@functools.cache
def _templates() -> Environment:
    """Built on the first page asked for: Jinja2 costs an API-only gateway nothing."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    templates = Environment(
        loader=PackageLoader("gateway.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )
    templates.filters["utc"] = lambda seconds: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
    return templates


_STATIC = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}
_STATIC_BYTES = {name: (resources.files("gateway.console") / "static" / name).read_bytes() for name in _STATIC}


def _store(state: State) -> SessionStore:
    runtime: Runtime = state.runtime
    assert runtime.shared is not None  # set by the lifespan before any request
    return SessionStore(runtime.shared, runtime.config.console.session_ttl_seconds)


def _cookie(request: Request[Any, Any, Any], name: str, value: str, max_age: int, path: str = "/") -> Cookie:
    return Cookie(
        key=name,
        value=value,
        path=path,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=is_https(request.scope),
    )


def _page(
    state: State,
    template: str,
    code: int = 200,
    *,
    session: Session | None = None,
    cookies: list[Cookie] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[bytes]:
    ring: KeyRing = state.keyring
    context.setdefault("page", "")
    html = _templates().get_template(template).render(session=session, open_gateway=ring.open, **context)
    return Response(
        html.encode(),
        status_code=code,
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, **(headers or {})},
        cookies=cookies,
    )


def _error(state: State, code: int, title: str, message: str, session: Session | None = None) -> Response[bytes]:
    return _page(state, "error.html", code, session=session, title=title, message=message)


def _to(path: str, cookies: list[Cookie] | None = None) -> Redirect:
    return Redirect(path, status_code=303, cookies=cookies, headers=SECURITY_HEADERS)


async def _session(request: Request[Any, Any, Any], state: State) -> tuple[str, Session] | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    session = await _store(state).get(session_id)
    return (session_id, session) if session_id and session else None


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    body = await request.body()
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
    except ValueError:  # more fields than any console form has: nothing in it is trusted
        return {}
    return {name: values[0] for name, values in fields.items() if values}


def address_bucket(address: str) -> str:
    """What login attempts are counted by: the IPv4 address, or the IPv6 /64 (one host's
    usual share), so that rotating addresses inside one's own /64 gains nothing."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _caller_for(ring: KeyRing, key: str) -> tuple[str | None, bool] | None:
    """(client name, admin) for a presented key, or None: one answer for every wrong key."""
    if key and ring.is_admin(f"Bearer {key}"):
        return None, True
    if ring.open:
        return None, False  # no client keys: the API takes anyone, so the console does too
    try:
        client = ring.authenticate(f"Bearer {key}")
    except AuthenticationError:
        return None
    return (client.name if client else None), False


@get("/console")
async def playground(request: Request[Any, Any, Any], state: State) -> Response[bytes] | Redirect:
    found = await _session(request, state)
    if found is None:
        return _to("/console/login")
    return _page(state, "playground.html", session=found[1], page="playground")


@get("/console/login")
async def login_form(request: Request[Any, Any, Any], state: State) -> Response[bytes] | Redirect:
    if await _session(request, state) is not None:
        return _to("/console")
    token = secrets.token_urlsafe(32)
    cookie = _cookie(request, LOGIN_COOKIE, token, LOGIN_FORM_SECONDS, path="/console/login")
    return _page(state, "login.html", cookies=[cookie], page="login", login_token=token, failed=None)


@post("/console/login", status_code=303, request_max_body_size=LOGIN_BODY_BYTES)
async def login(request: Request[Any, Any, Any], state: State) -> Response[bytes] | Redirect:
    runtime: Runtime = state.runtime
    if not same_origin(request.scope):
        return _error(state, 403, "Forbidden", "This form may only be sent from this console.")
    form = await _form(request)
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not expected or not same_token(form.get("csrf"), expected):
        return _error(state, 403, "Forbidden", "The login form expired: open the login page again.")
    client = request.scope.get("client") or ("-", 0)
    assert runtime.shared is not None
    limit = runtime.config.console.login_attempts_per_minute
    wait = await runtime.shared.admit(f"console-login/{address_bucket(client[0])}", limit, 60.0)
    if wait is not None:
        headers = {"retry-after": str(max(1, round(wait)))}
        return _page(
            state,
            "login.html",
            429,
            headers=headers,
            page="login",
            login_token=expected,
            failed=("Too many login attempts from this address: wait a minute and try again."),
        )
    caller = _caller_for(state.keyring, form.get("key", "").strip())
    if caller is None:
        return _page(state, "login.html", 401, page="login", login_token=expected, failed=LOGIN_FAILED)
    store = _store(state)
    old = await _session(request, state)
    if old is not None:  # a new login never keeps an old id (no session fixation)
        await store.delete(old[0])
    session_id, _ = await store.create(*caller)
    ttl = int(runtime.config.console.session_ttl_seconds)
    cookies = [
        _cookie(request, SESSION_COOKIE, session_id, ttl),
        _cookie(request, LOGIN_COOKIE, "", 0, path="/console/login"),
    ]
    return _to("/console/status" if caller[1] else "/console", cookies)


@post("/console/logout", status_code=303, request_max_body_size=LOGIN_BODY_BYTES)
async def logout(request: Request[Any, Any, Any], state: State) -> Response[bytes] | Redirect:
    found = await _session(request, state)
    if found is None:
        return _to("/console/login")
    session_id, session = found
    form = await _form(request)
    token = request.headers.get("x-csrf-token") or form.get("csrf")
    if not same_origin(request.scope) or not same_token(token, session.csrf):
        return _error(state, 403, "Forbidden", "Missing or wrong CSRF token.", session)
    await _store(state).delete(session_id)
    return _to("/console/login", [_cookie(request, SESSION_COOKIE, "", 0)])


@get("/console/jobs")
async def jobs_page(request: Request[Any, Any, Any], state: State) -> Response[bytes] | Redirect:
    found = await _session(request, state)
    if found is None:
        return _to("/console/login")
    session = found[1]
    jobs: JobService = state.jobs
    ring: KeyRing = state.keyring
    records = [] if session.admin and not ring.open else await jobs.recent(session.client, JOBS_SHOWN)
    return _page(state, "jobs.html", session=session, page="jobs", jobs=records)


@get("/console/status")
async def status_page(request: Request[Any, Any, Any], state: State) -> Response[bytes] | Redirect:
    found = await _session(request, state)
    if found is None:
        return _to("/console/login")
    session = found[1]
    if not session.admin:
        return _error(state, 403, "Forbidden", "The status page is for the admin key only.", session)
    facts = await gather_status(state.runtime, state)
    return _page(state, "status.html", session=session, page="status", status=facts)


@get("/console/static/{name:str}", sync_to_thread=False)
def static(name: str) -> Response[bytes]:
    body = _STATIC_BYTES.get(name)
    if body is None:
        return Response(b"not found", status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)
    headers = {**SECURITY_HEADERS, "cache-control": "no-cache"}
    return Response(body, media_type=_STATIC[name], headers=headers)


CONSOLE_ROUTES = [playground, login_form, login, logout, jobs_page, status_page, static]
