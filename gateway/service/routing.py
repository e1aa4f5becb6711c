"""Model names -> the ordered targets that may serve them.

``wan2.7-image`` goes to the default provider, or to the targets of a configured
route (weighted first choice, then the rest in order as fallbacks);
``dashscope-intl/wan2.7-image`` names the provider. Aliases (``dall-e-3``) are
expanded first. The adapter translates regional names.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from gateway.engine.executor import Target
from gateway.settings import RouteSettings
from providers.base import ModelInfo
from providers.errors import ModelNotFound

__all__ = ["Route", "Router"]


class Route:
    __slots__ = ("model", "target")

    def __init__(self, target: Target, model: ModelInfo) -> None:
        self.target = target
        self.model = model

    def __repr__(self) -> str:
        return f"Route({self.target.name}/{self.model.id})"


class Router:
    def __init__(
        self,
        targets: Mapping[str, Target],
        *,
        default_provider: str,
        default_model: str,
        aliases: Mapping[str, str] | None = None,
        routes: Mapping[str, RouteSettings] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.targets = dict(targets)
        self.default_provider = default_provider
        self.default_model = default_model
        self.aliases = dict(aliases or {})
        self.rng = rng or random.Random()
        self.routes: dict[str, list[tuple[Route, float]]] = {}
        for name, settings in (routes or {}).items():
            resolved = []
            for target in settings.targets:
                model = target.model or name
                info = self.targets[target.provider].adapter.resolve(model)
                if info is None:
                    raise ValueError(f"route {name!r}: provider {target.provider!r} does not offer {model!r}")
                resolved.append((Route(self.targets[target.provider], info), target.weight or 0.0))
            self.routes[name] = resolved

    def canonical(self, requested: str | None) -> str:
        """The name a request means: the default model when absent, aliases expanded."""
        name = (requested or "").strip() or self.default_model
        return self.aliases.get(name, name)

    def _ordered(self, name: str) -> list[Route]:
        choices = self.routes[name]
        weighted = [(route, weight) for route, weight in choices if weight > 0]
        if not weighted:
            return [route for route, _ in choices]
        if len(weighted) == 1:
            first = weighted[0][0]
        else:
            first = self.rng.choices([r for r, _ in weighted], weights=[w for _, w in weighted])[0]
        return [first, *(route for route, _ in choices if route is not first)]

    def candidates(self, requested: str | None) -> list[Route]:
        """Targets to try in order; raises ModelNotFound when nothing serves the name."""
        name = self.canonical(requested)
        prefix, sep, bare = name.partition("/")
        if sep and prefix in self.targets:
            target, model_name = self.targets[prefix], bare
        elif name in self.routes:
            return self._ordered(name)
        else:
            target, model_name = self.targets[self.default_provider], name
        info = target.adapter.resolve(model_name)
        if info is None:
            raise ModelNotFound(
                f"The model '{name}' does not exist or is not offered by provider '{target.name}'", param="model"
            )
        return [Route(target, info)]

    def route_to(self, provider: str, model: str) -> Route | None:
        """The route to a provider's model by their names (for records other replicas wrote)."""
        target = self.targets.get(provider)
        info = target.adapter.resolve(model) if target else None
        return Route(target, info) if target and info else None

    def listed(self, requested: str | None) -> Route:
        """The route a name is described by: a route's first configured target, never a weighted pick."""
        name = self.canonical(requested)
        if name in self.routes:
            return self.routes[name][0][0]
        return self.candidates(name)[0]

    def resolve(self, requested: str | None) -> Route:
        return self.candidates(requested)[0]
