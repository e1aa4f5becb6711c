"""Which ``webhook_url`` a job may name, and which address its delivery may connect to.

A host must be listed: on the client key's ``webhook_hosts`` or in ``webhooks.allowed_hosts``,
exactly or by a ``*.example.com`` pattern (``*`` alone: any host). Its addresses are then
resolved, and a loopback, private, link-local, multicast or unspecified one is refused unless
that address itself is listed: neither a pattern nor a host name (whose DNS its owner may
point anywhere) opens the internal network. The check runs when the job is submitted and
again before every attempt, whose connection then goes to the very address that was checked
(a DNS answer that changed in between, to point inside, is refused rather than followed).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from providers.errors import InvalidRequest
from providers.urls import private_host

__all__ = [
    "MAX_URL_LENGTH",
    "Target",
    "Unresolvable",
    "WebhookNotAllowed",
    "WebhooksNotConfigured",
    "check",
    "host_listed",
    "internal_address",
    "parse",
]

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT = 5.0
#: getaddrinfo can answer with dozens of addresses; a few are enough to connect to.
MAX_ADDRESSES = 8


class WebhookNotAllowed(InvalidRequest):
    default_code = "webhook_url_not_allowed"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="webhook_url")


class Unresolvable(WebhookNotAllowed):
    """The host has no address now: a 400 at submission, a retry at delivery."""


class WebhooksNotConfigured(InvalidRequest):
    default_code = "webhooks_not_configured"

    def __init__(self) -> None:
        super().__init__(
            "This gateway sends no webhooks: its operator has not set webhooks.secret", param="webhook_url"
        )


@dataclass(frozen=True, slots=True)
class Target:
    url: httpx.URL
    #: As matched: lower case, IDNA-encoded, IPv6 without brackets.
    host: str
    #: Checked addresses, to connect to in this order.
    addresses: tuple[str, ...]


def _normal(host: str) -> str:
    return host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


def parse(url: str) -> httpx.URL:
    """The URL as it will be sent, or WebhookNotAllowed saying what is wrong (never quoting it whole)."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookNotAllowed(f"'webhook_url' is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise WebhookNotAllowed("'webhook_url' is not a valid URL") from None
    if parsed.scheme not in ("https", "http"):
        raise WebhookNotAllowed("'webhook_url' must be an https:// (or http://) URL")
    if not parsed.raw_host:
        raise WebhookNotAllowed("'webhook_url' has no host")
    if parsed.userinfo:
        raise WebhookNotAllowed("'webhook_url' may not carry a user name or password")
    return parsed


def host_listed(host: str, patterns: Iterable[str]) -> str | None:
    """ "exact" when a pattern names ``host`` itself, "pattern" when only a wildcard matches, else None."""
    host = _normal(host)
    found = None
    for raw in patterns:
        pattern = _normal(raw)
        if pattern == host:
            return "exact"
        if pattern == "*" or (pattern.startswith("*.") and host.endswith(pattern[1:]) and host != pattern[2:]):
            found = "pattern"
    return found


def internal_address(address: str) -> bool:
    """Loopback, private, link-local, multicast, unspecified, reserved (IPv4 inside IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return private_host(str(ip)) or ip.is_multicast


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


async def _resolve(host: str, port: int) -> tuple[str, ...]:
    literal = _literal(host)
    if literal is not None:
        return (literal,)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError):
        raise Unresolvable(f"The webhook host {host} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Unresolvable(f"The webhook host {host} does not resolve")
    return tuple(addresses[:MAX_ADDRESSES])


async def check(url: str, patterns: tuple[str, ...]) -> Target:
    """The URL's target, or WebhookNotAllowed (Unresolvable when its host has no address)."""
    parsed = parse(url)
    host = _normal(parsed.raw_host.decode("ascii"))
    listed = host_listed(host, patterns)
    if listed is None:
        raise WebhookNotAllowed(f"Webhooks to {host} are not allowed for this key")
    addresses = await _resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80))
    exact = {_literal(_normal(p)) for p in patterns} - {None}
    for address in addresses:
        if internal_address(address) and _literal(address) not in exact:
            # Every address, not just the first: a name answering with an internal one too is refused.
            raise WebhookNotAllowed(
                f"The webhook host {host} resolves to an internal address, which is called only when "
                "that address is listed exactly"
            )
    return Target(parsed, host, addresses)
