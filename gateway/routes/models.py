"""``GET /v1/models`` and ``GET /v1/models/{id}``: OpenAI's list shape plus what each model can do.

Every routable name is listed: the default provider's models bare and every
provider's models as ``provider/model``, then configured aliases and routes.
``capabilities`` says how a model is served (sync/async), whether it edits,
how many images a request may ask for, and its size rule in words.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State

from gateway.http.auth import require_client_key
from gateway.http.responses import json_response
from gateway.service.images import MAX_N, ImageService
from gateway.service.routing import Route, Router
from gateway.wire.models import Capabilities, ModelCard, ModelList
from providers.base import ModelInfo
from providers.errors import ApiError, ModelNotFound

__all__ = ["MODEL_ROUTES", "list_models", "retrieve_model"]

#: OpenAI's ``created`` is when the model was published; this gateway says when it started.
_STARTED = int(time.time())


def capabilities(info: ModelInfo) -> Capabilities:
    image = info.kind == "image"
    return Capabilities(
        type=info.kind,
        sync="sync" in info.modes,
        async_="async" in info.modes,
        generations=image and info.images[0] == 0,
        edits=image and info.edits,
        chat=True,  # image models answer chat completions with images; chat models are proxied
        max_n=MAX_N if image else info.max_n,
        max_n_per_call=info.max_n,
        min_input_images=info.images[0],
        max_input_images=info.images[1],
        max_input_image_bytes=info.image_max_bytes if info.edits else None,
        size_rule=info.size_rule,
        edit_size_rule=info.edit_size_rule or None,
        masks=info.masks,
        options=list(info.options),
    )


def card(name: str, route: Route) -> ModelCard:
    return ModelCard(name, "model", _STARTED, route.target.name, capabilities(route.model))


def _names(router: Router) -> Iterator[str]:
    default = router.targets[router.default_provider]
    yield from (info.id for info in default.adapter.models())
    for name, target in router.targets.items():
        yield from (f"{name}/{info.id}" for info in target.adapter.models())
    yield from router.aliases
    yield from router.routes


def model_cards(router: Router) -> list[ModelCard]:
    cards: dict[str, ModelCard] = {}
    for name in _names(router):
        if name in cards:
            continue
        try:
            cards[name] = card(name, router.listed(name))
        except ApiError:
            continue  # e.g. an alias to a model no provider offers: not routable, so not listed
    return list(cards.values())


@get("/v1/models")
async def list_models(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    client = require_client_key(request)
    service: ImageService = state.images
    cards = model_cards(service.router)
    if client is not None:
        cards = [c for c in cards if client.may_use([c.id])]
    return json_response(ModelList("list", cards))


@get("/v1/models/{model_id:path}")
async def retrieve_model(request: Request[Any, Any, Any], state: State, model_id: str) -> Response[bytes]:
    client = require_client_key(request)
    service: ImageService = state.images
    name = model_id.strip("/")
    if not name or (client is not None and not client.may_use([name])):
        raise ModelNotFound(f"The model '{name}' does not exist", param="model")
    return json_response(card(name, service.router.listed(name)))


MODEL_ROUTES = [list_models, retrieve_model]
