"""Scrubbing text before it leaves the gateway: every known key, anything shaped like one, and length.

Upstream text reaches clients inside error messages, request ids and codes. An upstream
(or a proxy or debug page in front of it) may echo the request's ``Authorization``
header, which holds the gateway's provider key. Every ``ApiError`` passes its text
through :func:`scrub`, so errors are clean wherever they are rendered, stored or logged.
"""

from __future__ import annotations

import re

__all__ = ["MAX_UPSTREAM_TEXT", "remember", "scrub"]

#: Upstream text longer than this is cut: a client needs the gist, not a debug page.
MAX_UPSTREAM_TEXT = 1000
_REDACTED = "[redacted]"
#: Values shorter than this are not treated as secrets: replacing them would mangle text.
_MIN_SECRET = 8
#: Configured secrets are few (one per provider, plus client and admin keys).
_MAX_KNOWN = 1024
_known: set[str] = set()

_SHAPES = re.compile(
    r"(?i)"
    r"(?:\b(?:bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{6,})"  # an Authorization value
    r"|(?:\bauthorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?[^\s\"',;}]+)"  # the header, as echoed
    r"|(?:\bsk-[A-Za-z0-9_\-]{12,})"  # OpenAI / DashScope style keys
    r"|(?:\b[A-Za-z0-9_]{32,}\b)"  # a long opaque token (a key without its prefix)
)


def remember(value: str) -> None:
    """Treat ``value`` as a secret from now on (called for every credential the process holds)."""
    if len(value) >= _MIN_SECRET and len(_known) < _MAX_KNOWN:
        _known.add(value)


def scrub(text: str, limit: int = MAX_UPSTREAM_TEXT) -> str:
    """``text`` without any known secret or key-shaped token, at most ``limit`` characters (plus an ellipsis)."""
    # Shapes first: "Bearer <known key>" goes whole, scheme included.
    text = _SHAPES.sub(_REDACTED, text)
    for secret in _known:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text
