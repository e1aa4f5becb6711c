"""Model names -> the provider that serves them.

``wan2.7-image`` goes to the default provider; ``dashscope-intl/wan2.7-image``
names the provider. The adapter translates regional names.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.engine.executor import Target
from providers.base import ModelInfo
from providers.errors import ModelNotFound

__all__ = ["Route", "Router"]


class Route:
    __slots__ = ("model", "target")

    def __init__(self, target: Target, model: ModelInfo) -> None:
        self.target = target
        self.model = model


class Router:
    def __init__(self, targets: Mapping[str, Target], *, default_provider: str, default_model: str) -> None:
        self.targets = dict(targets)
        self.default_provider = default_provider
        self.default_model = default_model

    def resolve(self, requested: str | None) -> Route:
        name = (requested or "").strip() or self.default_model
        prefix, sep, bare = name.partition("/")
        if sep and prefix in self.targets:
            target, model_name = self.targets[prefix], bare
        else:
            target, model_name = self.targets[self.default_provider], name
        info = target.adapter.resolve(model_name)
        if info is None:
            raise ModelNotFound(
                f"The model '{name}' does not exist or is not offered by provider '{target.name}'",
                param="model",
            )
        return Route(target, info)
