"""The routes dispatched past Litestar's per-request layers answer exactly as Litestar would."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State

from gateway.http.direct import DirectRoutes, _plain_json, _send_json
from gateway.http.errors import EXCEPTION_HANDLERS
from providers.errors import InvalidRequest

_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=20)


def _messages(run: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(run(send))
    return sent


@given(
    body=st.binary(max_size=200),
    status=st.sampled_from([200, 400, 413, 429, 499, 502]),
    headers=st.dictionaries(_token, _token, max_size=4),
)
def test_plain_json_is_sent_as_litestar_sends_it(body: bytes, status: int, headers: dict[str, str]) -> None:
    response = Response(body, status_code=status, media_type="application/json", headers=headers)
    assert _plain_json(response)
    scope: Any = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        request: Request[Any, Any, Any] = Request(scope, receive)
        litestar = _messages(lambda send: response.to_asgi_response(app=None, request=request)(scope, receive, send))
    assert _messages(lambda send: _send_json(response, status, send)) == litestar


def test_other_responses_go_through_litestar() -> None:
    assert not _plain_json(Response("text", media_type="text/plain"))
    assert not _plain_json(Response({"a": 1}))  # not encoded yet


@post("/plain", status_code=200)
async def plain(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    if request.headers.get("x-fail") == "api":
        raise InvalidRequest("bad size", param="size")
    if request.headers.get("x-fail") == "bug":
        raise RuntimeError("a bug")
    body = await request.body()
    return Response(body, media_type="application/json", headers={"x-seen": state.marker})


@post("/dependent", status_code=200, dependencies={"extra": lambda: 1})
async def dependent(request: Request[Any, Any, Any], state: State, extra: int) -> Response[bytes]:
    return Response(b"{}", media_type="application/json")


@get("/other")
async def other() -> dict[str, int]:
    return {"other": 1}


def _app() -> DirectRoutes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = Litestar([plain, other], exception_handlers=EXCEPTION_HANDLERS, request_max_body_size=100)  # type: ignore[arg-type]
    app.state.marker = "yes"
    return DirectRoutes(app, [("POST", "/plain")], EXCEPTION_HANDLERS)


def _call(
    app: DirectRoutes, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    scope: Any = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "http_version": "1.1",
        "headers": [(k.encode(), v.encode()) for k, v in {"host": "gw", **(headers or {})}.items()],
        "server": ("gw", 80),
        "client": ("127.0.0.1", 1),
        "asgi": {"version": "3.0"},
    }
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Any:
        return chunks.pop() if chunks else {"type": "http.disconnect"}

    sent = _messages(lambda send: app(scope, receive, send))
    answer = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    content = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], answer, msgspec.json.decode(content) if content[:1] in (b"{", b"[") else content


def test_a_direct_route_keeps_its_body_limit_host_check_and_error_shapes() -> None:
    app = _app()
    assert _call(app, "POST", "/plain", b'{"a":1}')[::2] == (200, {"a": 1})
    assert _call(app, "POST", "/plain", b"{}")[1]["x-seen"] == "yes"
    status, _, too_big = _call(app, "POST", "/plain", b"x" * 101)
    assert status == 413 and too_big["error"]["code"] == "request_too_large"
    status, _, bad = _call(app, "POST", "/plain", headers={"x-fail": "api"})
    assert status == 400 and bad["error"]["param"] == "size"
    status, _, bug = _call(app, "POST", "/plain", headers={"x-fail": "bug"})
    assert status == 500 and bug["error"]["code"] == "internal_error" and "a bug" not in str(bug)
    assert _call(app, "POST", "/plain", headers={"host": "bad host/"})[0] == 400
    # Everything else is Litestar's: another method, another route.
    assert _call(app, "GET", "/plain")[0] == 405
    assert _call(app, "GET", "/other")[::2] == (200, {"other": 1})


def test_a_handler_litestar_would_add_to_is_refused() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = Litestar([dependent])
    with pytest.raises(ValueError, match="needs Litestar's own handling"):
        DirectRoutes(app, [("POST", "/dependent")], EXCEPTION_HANDLERS)
