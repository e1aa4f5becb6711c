"""The Litestar application factory and the lifespan that owns shared resources."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version as _version
from typing import TYPE_CHECKING

from litestar import Litestar

from gateway.console.gate import ConsoleGate
from gateway.console.routes import CONSOLE_ROUTES
from gateway.engine.executor import Engine, Target
from gateway.engine.transport import Upstream
from gateway.http.direct import DirectRoutes
from gateway.http.errors import EXCEPTION_HANDLERS
from gateway.http.middleware import GatewayMiddleware
from gateway.observability import tracing
from gateway.observability.keystatus import check_keys, publish
from gateway.routes.chat import CHAT_ROUTES
from gateway.routes.files import FILE_ROUTES
from gateway.routes.images import IMAGE_ROUTES
from gateway.routes.jobs import JOB_ROUTES
from gateway.routes.models import MODEL_ROUTES
from gateway.routes.ops import OPS_ROUTES
from gateway.routes.responses import RESPONSE_ROUTES
from gateway.routes.usage import USAGE_ROUTES
from gateway.runtime import Runtime
from gateway.service.images import ImageService
from gateway.service.jobs import JobService
from gateway.service.routing import Router
from gateway.settings import ConfigError, GatewayConfig
from gateway.state import SharedState, build_state, close_state
from gateway.storage.base import ImageStore
from gateway.storage.build import build_store
from gateway.storage.keeper import ResultKeeper
from gateway.usage.ledger import Ledger
from gateway.webhooks import Webhooks
from providers import registry

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["build_router", "build_targets", "create_app"]

log = logging.getLogger(__name__)
__version__ = _version("image-gateway")

#: JSON bodies for generations are small; edits raise their own limit.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Longest a shutdown waits for buffered usage records to be written.
LEDGER_CLOSE_SECONDS = 5.0
#: The API's busiest routes, dispatched without Litestar's per-request layers (gateway/http/direct.py).
DIRECT_ROUTES = (
    ("POST", "/v1/images/generations"),
    ("POST", "/v1/images/edits"),
    ("POST", "/v1/images/variations"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/responses"),
)


def build_targets(config: GatewayConfig) -> dict[str, Target]:
    targets = {}
    for name, p in config.providers.items():
        kind = registry.kind_of(p)
        try:
            adapter = kind.build(p, config.models)
        except ValueError as exc:
            raise ConfigError(f"provider {name!r}: {exc}") from None
        targets[name] = Target(
            name,
            adapter,
            p.api_key,
            pacing=p.pacing,
            read_timeout=p.read_timeout,
            connect_timeout=p.connect_timeout,
            extras=kind.extras,
            kind=kind.name,
        )
    return targets


def build_router(config: GatewayConfig, targets: dict[str, Target] | None = None) -> Router:
    try:
        return Router(
            targets or build_targets(config),
            default_provider=config.default_provider,
            default_model=config.default_model,
            aliases=config.aliases,
            routes=config.routes,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


async def _watch_keys(runtime: Runtime, upstream: Upstream, targets: list[Target]) -> None:
    interval = runtime.config.key_check_interval_seconds
    while True:
        try:
            publish(runtime.metrics, await check_keys(upstream, targets))
        except Exception:  # a failed check must never take the gateway down
            log.exception("provider key check failed")
        if interval <= 0:
            return
        await asyncio.sleep(interval)


async def _clean_store(store: ImageStore, interval: float) -> None:
    """Past-retention images go (each replica may run it: deleting a file twice is harmless)."""
    while True:
        try:
            removed = await store.cleanup(time.time())
            if removed:
                log.info("storage cleanup removed %d image(s) past retention", removed)
        except Exception:
            log.exception("storage cleanup failed")
        await asyncio.sleep(interval)


def create_app(
    config: GatewayConfig, runtime: Runtime | None = None, *, span_exporter: SpanExporter | None = None
) -> GatewayMiddleware:
    """The ASGI app. Raises ConfigError when the configuration cannot be served.

    ``span_exporter`` takes the spans instead of OTLP (and turns tracing on): for tests."""
    runtime = runtime or Runtime(config)
    targets = build_targets(config)
    router = build_router(config, targets)
    assert runtime.keyring is not None
    try:
        store = build_store(config.storage)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"storage: {exc}") from None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        tracing.configure(config.tracing, exporter=span_exporter, version=__version__)
        up = config.upstream
        upstream = Upstream(
            max_connections=up.max_connections,
            connect_timeout=up.connect_timeout,
            read_timeout=up.read_timeout,
            max_answer_bytes=up.max_answer_bytes,
            max_connects=up.max_connects,
            keepalive_seconds=up.keepalive_seconds,
        )
        state: SharedState = build_state(config.redis_url, runtime.metrics)
        runtime.shared = state
        assert runtime.keyring is not None
        runtime.keyring.state = state
        replica = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
        engine = Engine(upstream, up, runtime.metrics, state)
        keeper = ResultKeeper(store, upstream.client, config.downloads, runtime.metrics) if store else None
        images = ImageService(config, router, engine, upstream.client, runtime.keyring, state, replica, keeper)
        app.state.upstream = upstream
        app.state.images = images
        app.state.jobs = runtime.jobs = JobService(images, state, config.jobs, replica)
        app.state.webhooks = webhooks = Webhooks(config.webhooks, state, runtime.metrics, runtime.keyring)
        runtime.jobs.on_finished, webhooks.on_delivered = webhooks.job_finished, runtime.jobs.delivered
        webhooks.start()
        if config.usage.enabled:
            # Its thread opens the database: one that is down delays no start and fails no request.
            runtime.ledger = runtime.jobs.usage = Ledger(config.usage, runtime.metrics)
            runtime.ledger.start()
        watcher = asyncio.create_task(_watch_keys(runtime, upstream, list(targets.values())))
        cleaner = None
        if store is not None and store.cleanup_interval is not None:
            cleaner = asyncio.create_task(_clean_store(store, store.cleanup_interval))
        runtime.ready = True
        # Everything built so far lives as long as the process: keep the collector
        # from re-scanning it on every cycle (fewer, shorter pauses under load).
        gc.freeze()
        # Each request allocates thousands of short-lived objects; collecting the
        # young generation every 700 allocations showed up under bursts.
        gc.set_threshold(20_000, 20, 20)
        try:
            yield
        finally:
            runtime.ready = False
            for task in (watcher, cleaner):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await runtime.jobs.aclose()
            await webhooks.aclose()
            await close_state(state)
            await upstream.aclose()
            if store is not None:
                await store.aclose()
            images.image_workers.shutdown()
            if runtime.ledger is not None:
                # After the requests and jobs: their records are the last ones in the buffer.
                await asyncio.to_thread(runtime.ledger.close, LEDGER_CLOSE_SECONDS)
            await asyncio.to_thread(tracing.shutdown)

    app = Litestar(
        route_handlers=[
            *IMAGE_ROUTES,
            *CHAT_ROUTES,
            *RESPONSE_ROUTES,
            *MODEL_ROUTES,
            *JOB_ROUTES,
            *FILE_ROUTES,
            *OPS_ROUTES,
            *USAGE_ROUTES,
            *(CONSOLE_ROUTES if config.console.enabled else ()),
        ],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=None,
    )
    app.state.runtime = runtime
    app.state.keyring = runtime.keyring
    app.state.targets = targets
    app.state.router = router
    app.state.store = store
    direct = DirectRoutes(app, DIRECT_ROUTES, EXCEPTION_HANDLERS)
    # The console's session lookup sits inside the middleware, so it runs within the request's context.
    return GatewayMiddleware(ConsoleGate(direct, runtime) if config.console.enabled else direct, runtime)
