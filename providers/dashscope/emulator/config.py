"""Configuration of the DashScope emulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Region = Literal["cn", "intl", "us", "eu", "jp", "hk"]


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """How one emulator instance behaves.

    ``api_keys`` empty means dev mode: any non-empty bearer is accepted except ``sk-sp-`` coding-plan keys.
    ``latency`` is the duration of a sync call and of the RUNNING phase of a task; ``pending_seconds`` the
    PENDING phase. ``enforce_limits`` turns on the per (key, model) submit rate limits, the per-model task
    concurrency and the 20 QPS task-query limit of the real service.
    """

    region: Region = "cn"
    api_keys: tuple[str, ...] = ()
    latency: float = 0.0
    pending_seconds: float = 0.0
    enforce_limits: bool = False
    url_ttl_seconds: float = 86400.0
    compat_images: bool = False
    record_requests: bool = True
