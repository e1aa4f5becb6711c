"""The provider kinds this gateway knows, by the ``kind:`` of a config entry.

Adding a kind in this tree is one line in ``_BUILT_IN``; a kind kept elsewhere
registers itself from a module the config names in ``provider_modules``.
"""

from __future__ import annotations

import importlib
from typing import Any, Union

from providers.dashscope import kind as dashscope
from providers.kind import ProviderKind, ProviderSettings
from providers.openai_compat import kind as openai_compat

__all__ = ["find", "import_kinds", "kind_of", "kinds", "register", "registered", "settings_type"]

_BUILT_IN: tuple[ProviderKind[Any], ...] = (dashscope.KIND, openai_compat.KIND)
_KINDS: dict[str, ProviderKind[Any]] = {kind.name: kind for kind in _BUILT_IN}


def register(kind: ProviderKind[Any]) -> None:
    """Add a kind (registering the same kind again is a no-op). Raises ValueError on a clash."""
    known = _KINDS.get(kind.name)
    if known is not None and known is not kind:
        raise ValueError(f"provider kind {kind.name!r} is already registered")
    if not issubclass(kind.settings, ProviderSettings) or kind.settings.__struct_config__.tag_field != "kind":
        raise ValueError(
            f"provider kind {kind.name!r}: its settings must subclass providers.kind.ProviderSettings "
            f'with tag_field="kind"'
        )
    tag = kind.settings.__struct_config__.tag
    if tag != kind.name:
        raise ValueError(f"provider kind {kind.name!r}: its settings must be tagged {kind.name!r}, not {tag!r}")
    _KINDS[kind.name] = kind


def import_kinds(modules: list[str]) -> None:
    """Import modules that each define ``KIND`` and register it. Raises ValueError naming the module."""
    for name in modules:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # any failure to import is a config error, not a crash
            raise ValueError(f"cannot import provider module {name!r}: {type(exc).__name__}: {exc}") from None
        kind = getattr(module, "KIND", None)
        if not isinstance(kind, ProviderKind):
            raise ValueError(f"provider module {name!r} defines no KIND (a providers.kind.ProviderKind)")
        register(kind)


def kinds() -> list[str]:
    return sorted(_KINDS)


def registered() -> list[ProviderKind[Any]]:
    return list(_KINDS.values())


def find(name: str) -> ProviderKind[Any] | None:
    return _KINDS.get(name)


def kind_of(settings: ProviderSettings) -> ProviderKind[Any]:
    """The kind a decoded config entry belongs to."""
    return _KINDS[str(type(settings).__struct_config__.tag)]


def settings_type() -> Any:
    """The tagged union of every registered kind's settings, to decode a config entry with."""
    types = tuple(kind.settings for kind in _KINDS.values())
    return types[0] if len(types) == 1 else Union[types]  # noqa: UP007 (built at run time)
