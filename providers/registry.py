"""Provider kinds -> adapter factories; the gateway builds adapters only through here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from providers.base import ImageAdapter
from providers.dashscope.adapter import DashScopeAdapter
from providers.dashscope.catalog import ModelEntry, load_catalog
from providers.openai_compat.adapter import OpenAICompatAdapter

__all__ = ["KINDS", "build_adapter"]


def _dashscope(*, region: str, base_url: str, models: dict[str, Any] | None = None, **_: Any) -> ImageAdapter:
    catalog = load_catalog()
    if models:
        # Entries from the gateway config add to or replace built-in ones.
        try:
            overrides = msgspec.convert(models, dict[str, ModelEntry])
        except msgspec.ValidationError as exc:
            raise ValueError(f"models: {exc}") from None
        catalog = catalog.merged(overrides)
    return DashScopeAdapter(region=region, base_url=base_url, catalog=catalog)


def _openai_compatible(
    *,
    base_url: str,
    image_models: tuple[str, ...] = (),
    chat_models: tuple[str, ...] = (),
    image_api: Literal["images", "chat"] = "images",
    download_origins: tuple[str, ...] = (),
    **_: Any,
) -> ImageAdapter:
    return OpenAICompatAdapter(
        base_url=base_url,
        image_models=image_models,
        chat_models=chat_models,
        image_api=image_api,
        download_origins=download_origins,
    )


KINDS: dict[str, Callable[..., ImageAdapter]] = {"dashscope": _dashscope, "openai-compatible": _openai_compatible}


def build_adapter(kind: str, **options: Any) -> ImageAdapter:
    try:
        factory = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown provider kind {kind!r}; known: {', '.join(sorted(KINDS))}") from None
    return factory(**options)
