"""What every console answer carries and every state change must show: CSP, same origin.

Decisions: the ``Secure`` cookie flag follows the request's scheme or ``X-Forwarded-Proto:
https``. Trusting that header for this is safe: a forged one only makes the cookie stricter.
The same-origin check compares the ``Origin`` host with ``Host`` (not the scheme: behind a
TLS-terminating proxy the browser says https while the gateway sees http), and refuses any
``Sec-Fetch-Site`` other than ``same-origin``; a request with neither (not a browser) still
needs the CSRF token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from gateway.http.headers import header

__all__ = ["SECURITY_HEADERS", "header", "is_https", "same_origin"]

#: No inline script or style anywhere; images only from here or data:/blob: URLs (the
#: console asks for b64_json, so result hosts need not be listed).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def is_https(scope: Any) -> bool:
    if scope.get("scheme") == "https":
        return True
    forwarded = header(scope, b"x-forwarded-proto") or ""
    return forwarded.split(",")[0].strip().lower() == "https"


def same_origin(scope: Any) -> bool:
    """False when the browser says this request came from another site."""
    site = header(scope, b"sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = header(scope, b"origin")
    if origin is None:
        return True
    host = header(scope, b"host")
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(host) and netloc.lower() == (host or "").lower()
