"""Provider kinds -> adapter factories; the gateway builds adapters only through here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from providers.base import ImageAdapter
from providers.dashscope.adapter import DashScopeAdapter
from providers.dashscope.catalog import Catalog

__all__ = ["KINDS", "build_adapter"]


def _dashscope(*, region: str, base_url: str, catalog: Catalog | None = None, **_: Any) -> ImageAdapter:
    return DashScopeAdapter(region=region, base_url=base_url, catalog=catalog)


KINDS: dict[str, Callable[..., ImageAdapter]] = {"dashscope": _dashscope}


def build_adapter(kind: str, **options: Any) -> ImageAdapter:
    try:
        factory = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown provider kind {kind!r}; known: {', '.join(sorted(KINDS))}") from None
    return factory(**options)
