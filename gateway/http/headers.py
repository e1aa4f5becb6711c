"""One request header, read straight from the ASGI scope.

Litestar's ``request.headers`` decodes every header into a case-insensitive multidict the
first time it is touched; the hot routes read four or five headers by name, and the scan
over the few raw pairs costs a fraction of that. ASGI servers give names in lowercase.
"""

from __future__ import annotations

from typing import Any

__all__ = ["header"]


def header(scope: Any, name: bytes) -> str | None:
    """The first value of header ``name`` (lowercase bytes), or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None
