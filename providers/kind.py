"""What a provider kind is: its settings, the extras its clients may send, and how to build its adapter.

A kind is registered once (``providers/registry.py``, or a module named in the
config's ``provider_modules``); the gateway then reads its settings from the
config, decodes its extras from requests and builds its adapters without naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from providers.base import ImageAdapter
from providers.secret import Secret

__all__ = ["Limits", "NoExtras", "PacingSettings", "ProviderKind", "ProviderSettings", "extras_of"]


class Limits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: Upstream submits per second (None: no pacing by rate).
    rps: float | None = None
    #: Upstream calls or tasks at once (None: no limit).
    concurrency: int | None = None


class PacingSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: Pace each model to the provider's documented limits (the catalog's rates).
    documented_limits: bool = True
    #: Per-model overrides of those limits, by model id.
    models: dict[str, Limits] = {}
    #: Requests waiting for a slot per model; past it, 429 with retry-after.
    queue_size: int = 1000
    #: Longest a request waits for a slot before a 429.
    queue_timeout_seconds: float = 60.0
    #: Task polls per second per provider key (DashScope allows 20 per account).
    poll_qps: float = 20.0


class ProviderSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What every provider entry in the config has. A kind subclasses it with
    ``tag_field="kind", tag="<its name>"`` and adds its own fields."""

    #: Where the provider is; a kind may derive it from its own settings when it is empty.
    base_url: str = ""
    api_key: Secret | None = None
    #: Per-provider timeouts; unset ones come from ``upstream``.
    connect_timeout: float | None = None
    read_timeout: float | None = None
    pacing: PacingSettings = msgspec.field(default_factory=PacingSettings)


class NoExtras(msgspec.Struct, kw_only=True):
    """For kinds that take no provider parameters beyond OpenAI's."""


def extras_of(extras: msgspec.Struct) -> dict[str, Any]:
    """The extras a client set (unset ones are None and are not sent)."""
    return {name: value for name in extras.__struct_fields__ if (value := getattr(extras, name)) is not None}


S = TypeVar("S", bound=ProviderSettings)


@dataclass(frozen=True, slots=True)
class ProviderKind(Generic[S]):
    #: The ``kind:`` value in the config.
    name: str
    settings: type[S]
    #: Provider parameters clients send at the top level of the body (the SDKs'
    #: ``extra_body``), typed so that a wrong type is a 400 naming the field.
    extras: type[msgspec.Struct]
    #: The adapter for one configured provider. ``models`` are the config's catalog
    #: entries (by model id), for kinds whose models are data; others ignore them.
    #: Raises ValueError for settings it cannot serve.
    build: Callable[[S, Mapping[str, Mapping[str, Any]]], ImageAdapter]
    #: How people call it in messages ("DashScope").
    label: str = ""
    #: An in-process stand-in ``(settings, key) -> ASGI app``, started when no key is set on loopback.
    emulator: Callable[[S, str], object] | None = None
    #: Adds the kind's own ``image-gateway`` subcommands: ``(argparse subparsers, serve)``,
    #: where ``serve(app, host, port)`` runs an ASGI app as the gateway's server does.
    commands: Callable[[Any, Callable[[object, str, int], None]], None] | None = None

    @property
    def title(self) -> str:
        return self.label or self.name
