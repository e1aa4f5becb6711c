"""Where a result URL points: its origin, and whether its host is a private address."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["origin", "private_host"]

_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def origin(url: str) -> Origin | None:
    """``(scheme, host, port)`` with the scheme's default port filled in; None for anything not http(s).

    Compared whole: the same host on another port (an internal admin port) is another origin.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port if port is not None else _DEFAULT_PORTS[parts.scheme]


def private_host(host: str) -> bool:
    """An IP literal that is not a public address (a name is judged by what it is, not where it points)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")
    return not address.is_global
