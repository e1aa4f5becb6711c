"""OpenAI-compatible upstreams as a provider kind: DashScope's compatible mode, OpenAI, self-hosted servers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from providers.base import ImageAdapter
from providers.extras import WanExtras
from providers.kind import ProviderKind, ProviderSettings
from providers.openai_compat.adapter import OpenAICompatAdapter

__all__ = ["KIND", "OpenAICompatSettings"]


class OpenAICompatSettings(ProviderSettings, frozen=True, tag_field="kind", tag="openai-compatible"):
    #: The image models and chat models the upstream serves.
    image_models: tuple[str, ...] = ()
    chat_models: tuple[str, ...] = ()
    #: Ask for images at /images/generations, or at /chat/completions with a top-level size.
    image_api: Literal["images", "chat"] = "images"
    #: Origins (``scheme://host:port``) besides the upstream's own that its result URLs
    #: may point to, such as a self-hosted server's file host. Public https hosts are
    #: always allowed; any other host, or port, is refused.
    download_origins: tuple[str, ...] = ()


def _build(settings: OpenAICompatSettings, models: Mapping[str, Mapping[str, Any]]) -> ImageAdapter:
    if not settings.base_url:
        raise ValueError("base_url is required")
    return OpenAICompatAdapter(
        base_url=settings.base_url,
        image_models=settings.image_models,
        chat_models=settings.chat_models,
        image_api=settings.image_api,
        download_origins=settings.download_origins,
    )


KIND = ProviderKind("openai-compatible", OpenAICompatSettings, WanExtras, _build, label="OpenAI-compatible")
