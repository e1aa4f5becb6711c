"""The console's security model over plain HTTP (no browser needed): cookies, CSRF, CSP, who may do what."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.console import (
    ADMIN_KEY,
    CLIENT_KEY,
    CONSOLE_CONFIG,
    assert_no_key,
    http_login,
    login_token,
    page_token,
)
from tests.conftest import GatewayFactory, openai_client
from tests.servers import Server

CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
)


def _cookie_flags(answer: httpx.Response, name: str) -> str:
    return next(value for value in answer.headers.get_list("set-cookie") if value.startswith(name + "="))


def test_the_session_cookie_is_httponly_strict_and_secure_only_behind_tls(console: Server) -> None:
    _, plain = http_login(console.url, CLIENT_KEY)
    assert plain.status_code == 303 and plain.headers["location"] == "/console"
    flags = _cookie_flags(plain, "gw_console")
    assert "HttpOnly" in flags and "samesite=strict" in flags.lower() and "Path=/;" in flags  # values: any case
    assert "Secure" not in flags
    # Behind a TLS-terminating proxy both cookies are Secure (so httpx, on http, keeps them to itself).
    proxied = httpx.Client(base_url=console.url, headers={"x-forwarded-proto": "https"})
    form = proxied.get("/console/login")
    assert "Secure" in _cookie_flags(form, "gw_console_login")
    token = login_token(form.text)
    tls = proxied.post(
        "/console/login", data={"csrf": token, "key": CLIENT_KEY}, headers={"cookie": f"gw_console_login={token}"}
    )
    assert tls.status_code == 303
    assert "Secure" in _cookie_flags(tls, "gw_console")
    value = _cookie_flags(plain, "gw_console").split(";")[0].split("=", 1)[1]
    assert_no_key(value, "the session cookie")
    assert len(value) == 43  # token_urlsafe(32): an id, not a key or its digest


def test_pages_carry_a_strict_csp_and_no_key(console: Server) -> None:
    client, _ = http_login(console.url, CLIENT_KEY)
    for path in ("/console/login", "/console", "/console/jobs", "/console/static/console.js"):
        answer = httpx.get(console.url + path, cookies=client.cookies) if path != "/console/login" else client.get(path)
        csp = answer.headers["content-security-policy"]
        assert all(directive in csp for directive in CSP_DIRECTIVES), csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert_no_key(answer.text, path)
    page = client.get("/console")
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline for the CSP to refuse


def test_the_api_takes_a_session_only_with_its_csrf_token(console: Server) -> None:
    client, _ = http_login(console.url, CLIENT_KEY)
    token = page_token(client.get("/console").text)
    assert client.get("/v1/models").status_code == 401  # the cookie alone is not enough
    assert client.get("/v1/models", headers={"x-csrf-token": "x" + token[1:]}).status_code == 401
    assert client.get("/v1/models", headers={"x-csrf-token": token}).status_code == 200
    other_site = {"x-csrf-token": token, "origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    assert client.get("/v1/models", headers=other_site).status_code == 401
    made = client.post(
        "/v1/images/generations",
        json={"prompt": "a red kite", "response_format": "b64_json"},
        headers={"x-csrf-token": token},
    )
    assert made.status_code == 200, made.text
    assert made.headers["x-gateway-provider"] == "dashscope"
    assert made.headers["x-gateway-size"] == made.json()["size"]
    assert made.headers["x-gateway-fallbacks"] == "0"
    # A client's session is never the admin.
    assert client.get("/admin/usage", headers={"x-csrf-token": token}).status_code == 401
    admin, _ = http_login(console.url, ADMIN_KEY)
    admin_token = page_token(admin.get("/console/jobs").text)
    assert admin.get("/admin/usage", headers={"x-csrf-token": admin_token}).status_code == 200
    assert admin.get("/admin/usage").status_code == 401
    # The admin key is not a client key, on the console as on the API.
    assert admin.get("/v1/models", headers={"x-csrf-token": admin_token}).status_code == 401


def test_state_changes_need_the_csrf_token_and_the_same_origin(console: Server) -> None:
    client, _ = http_login(console.url, CLIENT_KEY)
    token = page_token(client.get("/console").text)
    assert client.post("/console/logout").status_code == 403
    elsewhere = {"origin": "http://evil.example"}
    assert client.post("/console/logout", data={"csrf": token}, headers=elsewhere).status_code == 403
    assert client.get("/console").status_code == 200  # still logged in
    # The login form too: without its token, or from another site.
    bare = httpx.Client(base_url=console.url)
    assert bare.post("/console/login", data={"key": CLIENT_KEY}).status_code == 403
    too_many = {f"f{i}": "x" for i in range(9)}  # more fields than any console form: refused, never a 500
    assert bare.post("/console/login", data={**too_many, "key": CLIENT_KEY}).status_code == 403
    form = bare.get("/console/login")
    csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
    cross_site = {"sec-fetch-site": "cross-site"}
    cross = bare.post("/console/login", data={"csrf": csrf, "key": CLIENT_KEY}, headers=cross_site)
    assert cross.status_code == 403
    # Logout ends the session everywhere: the old cookie and token no longer work.
    old = dict(client.cookies)
    done = client.post("/console/logout", data={"csrf": token})
    assert done.status_code == 303 and done.headers["location"] == "/console/login"
    assert httpx.get(console.url + "/v1/models", cookies=old, headers={"x-csrf-token": token}).status_code == 401
    assert httpx.get(console.url + "/console", cookies=old).headers["location"] == "/console/login"


def test_a_wrong_key_gets_one_answer_that_names_nothing(console: Server) -> None:
    wrong = "sk-" + "1" * 32
    _, failed = http_login(console.url, wrong)
    _, near = http_login(console.url, CLIENT_KEY[:-1] + "x")
    assert failed.status_code == near.status_code == 401
    assert "Login failed: that key was not accepted." in failed.text
    assert wrong not in failed.text and "gw_console=" not in failed.headers.get("set-cookie", "")
    # A near miss and a wild guess read the same: the page says nothing about which part was wrong.
    message = "Login failed: that key was not accepted."
    assert failed.text.count(message) == near.text.count(message) == 1
    assert "admin" not in failed.text.lower().split("<main", 1)[1].replace("the admin key (for the status page)", "")


def test_bearer_clients_see_the_new_headers(console: Server) -> None:
    sdk = openai_client(console, CLIENT_KEY)
    raw = sdk.images.with_raw_response.generate(prompt="a fox", size="1024x1024", extra_body={"seed": 7})
    assert raw.headers["x-gateway-cache"] in ("miss", "hit")
    assert raw.headers["x-gateway-size"] == raw.parse().size
    assert raw.headers["x-gateway-size-sent"] == raw.parse().size.replace("x", "*")  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def strict(gateway_factory: GatewayFactory) -> Server:
    return gateway_factory(extra=CONSOLE_CONFIG.replace("per_minute: 1000", "per_minute: 2"))


def test_login_attempts_are_limited_per_address(strict: Server) -> None:
    statuses = [http_login(strict.url, "sk-" + str(i) * 32)[1].status_code for i in range(3)]
    assert statuses == [401, 401, 429]
    _, blocked = http_login(strict.url, CLIENT_KEY)  # even the right key waits: guessing gains nothing
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1


def test_the_console_can_be_switched_off(gateway_factory: GatewayFactory) -> None:
    off = gateway_factory(extra=CONSOLE_CONFIG.replace("{login_attempts_per_minute: 1000}", "{enabled: false}"))
    for path in ("/console", "/console/login", "/console/static/console.js"):
        assert httpx.get(off.url + path).status_code == 404
    assert httpx.post(off.url + "/console/login", data={"key": CLIENT_KEY}).status_code in (404, 405)
