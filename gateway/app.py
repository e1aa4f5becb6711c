"""The Litestar application factory and the lifespan that owns shared resources."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from gateway.api import ROUTES
from gateway.engine.executor import Engine, Target
from gateway.engine.transport import Upstream
from gateway.http_errors import EXCEPTION_HANDLERS
from gateway.images import ImageService
from gateway.middleware import RequestIdMiddleware
from gateway.routing import Router
from gateway.settings import GatewayConfig
from providers.registry import build_adapter

__all__ = ["build_router", "create_app"]

log = logging.getLogger(__name__)

#: JSON bodies for generations are small; edits raise their own limit.
MAX_BODY_BYTES = 10 * 1024 * 1024


def build_router(config: GatewayConfig) -> Router:
    targets = {
        name: Target(
            name,
            build_adapter(
                p.kind,
                region=p.region,
                base_url=p.base_url,
                image_models=p.image_models,
                chat_models=p.chat_models,
                image_api=p.image_api,
            ),
            p.api_key,
        )
        for name, p in config.providers.items()
    }
    return Router(targets, default_provider=config.default_provider, default_model=config.default_model)


def create_app(config: GatewayConfig) -> RequestIdMiddleware:
    router = build_router(config)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        up = config.upstream
        upstream = Upstream(
            max_connections=up.max_connections, connect_timeout=up.connect_timeout, read_timeout=up.read_timeout
        )
        app.state.images = ImageService(
            router,
            Engine(upstream, up),
            upstream.client,
            deadline_seconds=up.deadline_seconds,
            downloads=config.downloads,
        )
        app.state.ready = True
        # Everything built so far lives as long as the process: keep the collector
        # from re-scanning it on every cycle (fewer, shorter pauses under load).
        gc.freeze()
        try:
            yield
        finally:
            app.state.ready = False
            await upstream.aclose()

    app = Litestar(
        route_handlers=ROUTES,
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=None,
    )
    app.state.client_keys = config.api_keys
    app.state.ready = False
    return RequestIdMiddleware(app)
