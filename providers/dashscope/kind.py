"""DashScope as a provider kind: its config entry, its request extras, its adapter and its emulator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from providers.base import ImageAdapter
from providers.dashscope.adapter import DashScopeAdapter
from providers.dashscope.catalog import ModelEntry, load_catalog
from providers.dashscope.command import add_commands
from providers.dashscope.regions import Region, host_for
from providers.extras import WanExtras
from providers.kind import ProviderKind, ProviderSettings

__all__ = ["KIND", "DashScopeSettings"]


class DashScopeSettings(ProviderSettings, frozen=True, tag_field="kind", tag="dashscope"):
    #: Which regional model names and hosts apply: cn (Beijing), intl (Singapore), us
    #: (Virginia), eu (Frankfurt), jp (Tokyo), hk (Hong Kong).
    region: Region = "cn"
    #: A workspace id: the base URL is then the region's workspace host (needed for eu, jp).
    workspace_id: str | None = None
    #: Send the models that have one (qwen-image-3.0) to DashScope's OpenAI-compatible image
    #: endpoint, served on workspace hosts (not in Hong Kong), instead of the native one.
    compat_images: bool = False


def _build(settings: DashScopeSettings, models: Mapping[str, Mapping[str, Any]]) -> ImageAdapter:
    catalog = load_catalog()
    if models:
        # Entries from the gateway config add to or replace built-in ones.
        try:
            overrides = msgspec.convert(models, dict[str, ModelEntry])
        except msgspec.ValidationError as exc:
            raise ValueError(f"models: {exc}") from None
        catalog = catalog.merged(overrides)
    base_url = settings.base_url or host_for(settings.region, settings.workspace_id)
    if settings.compat_images and settings.region == "hk":
        raise ValueError("compat_images: Hong Kong serves no OpenAI-compatible image endpoint")
    if settings.compat_images and not (settings.workspace_id or settings.base_url):
        # The public hosts answer the endpoint with 404: only workspace hosts serve it.
        raise ValueError("compat_images needs a workspace host: set workspace_id (or the base_url of one)")
    return DashScopeAdapter(
        region=settings.region, base_url=base_url, catalog=catalog, compat_images=settings.compat_images
    )


def _emulator(settings: DashScopeSettings, key: str) -> object:
    from providers.dashscope.emulator import EmulatorConfig, create_app

    return create_app(EmulatorConfig(region=settings.region, api_keys=(key,), latency=1.0, pending_seconds=0.2))


KIND = ProviderKind(
    "dashscope", DashScopeSettings, WanExtras, _build, label="DashScope", emulator=_emulator, commands=add_commands
)
