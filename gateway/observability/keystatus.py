"""Provider key status: set or not, accepted or not (zero-cost probe), never the key."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass

from gateway.engine.executor import Target
from gateway.engine.transport import TransportError, Upstream
from gateway.observability.metrics import Metrics
from providers.base import KeyProber

__all__ = ["STATUSES", "KeyStatus", "check_keys", "publish"]

log = logging.getLogger(__name__)
STATUSES = ("not set", "valid", "invalid", "unreachable", "unchecked")
PROBE_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class KeyStatus:
    provider: str
    key: str  # "set" or "not set"
    status: str
    fingerprint: str | None
    warning: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


async def _check(upstream: Upstream, target: Target) -> KeyStatus:
    key = target.api_key
    if not key:
        return KeyStatus(target.name, "not set", "not set", None)
    adapter = target.adapter
    if not isinstance(adapter, KeyProber):
        return KeyStatus(target.name, "set", "unchecked", key.fingerprint())
    warning = adapter.key_warning(key.reveal())
    try:
        response = await upstream.send(adapter.key_probe(), key, read_timeout=PROBE_TIMEOUT)
        status = adapter.key_probe_result(response)
    except TransportError:
        status = "unreachable"
    return KeyStatus(target.name, "set", status, key.fingerprint(), warning)


async def check_keys(upstream: Upstream, targets: list[Target]) -> list[KeyStatus]:
    return list(await asyncio.gather(*(_check(upstream, target) for target in targets)))


def publish(metrics: Metrics, statuses: list[KeyStatus]) -> None:
    for item in statuses:
        for status in STATUSES:
            metrics.key_status.labels(item.provider, status).set(1 if item.status == status else 0)
