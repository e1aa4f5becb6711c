"""Image requests: authorize, route with fallback, run the upstream calls, shape the OpenAI answer.

Every image route (generations, edits, chat, async jobs) ends in :meth:`ImageService.run`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import httpx

from gateway.engine.breaker import Breaker
from gateway.engine.downloads import b64, fetch_all_b64
from gateway.engine.executor import Engine
from gateway.engine.gather import gather_or_cancel
from gateway.engine.pacing import QueueFull
from gateway.http.auth import KeyRing
from gateway.observability import tracing
from gateway.observability.context import RequestContext, current_request
from gateway.service.imagework import ImageWorkers
from gateway.service.output import Output, encode_as, reported_quality
from gateway.service.plan import Plan
from gateway.service.routing import Route, Router
from gateway.service.specs import MAX_N
from gateway.settings import GatewayConfig
from gateway.sharing.answers import AnswerSharing, Served
from gateway.sharing.cache import request_fingerprint
from gateway.state import LocalState, SharedState
from gateway.storage.base import Owner
from gateway.storage.keeper import ResultKeeper
from gateway.wire.images import ImageData, ImagesResponse, ImagesUsage
from providers.base import ImageBatch, ImageSpec, Pricer, TaskRef, UpstreamCall
from providers.errors import ApiError, ServiceUnavailable, UpstreamError, UpstreamTimeout

if TYPE_CHECKING:
    pass

__all__ = ["MAX_N", "ImageService", "Served", "owner_of"]

#: Input images beyond this many bytes are hashed off the event loop.
_HASH_INLINE_LIMIT = 1024 * 1024


@functools.cache
def _prices(adapter: type) -> bool:
    # Checking a runtime Protocol walks its attributes: once per adapter class, not per request.
    return issubclass(adapter, Pricer)


def _image_size(data: bytes) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            return image.size
    except Exception:
        return None


def owner_of(ctx: RequestContext | None, *, stored: bool = True) -> Owner:
    """Whose images these are, for the store: the request's id, client key name and origin
    (looked up only when there is a store to build URLs for)."""
    if ctx is None:
        return Owner(f"req_{os.urandom(16).hex()}")
    return Owner(ctx.request_id, ctx.client, ctx.origin() if stored else None)


def _made_then_lost(err: ApiError, batches: list[ImageBatch]) -> ApiError:
    """An error met after the upstream made the images (fetching or storing them): they are
    billed, so no other target may be asked for them and no client should retry."""
    if not err.retryable and err.final:
        return err
    made = sum(len(batch.images) for batch in batches)
    lost = UpstreamError(
        f"The upstream made {made} image(s), but they could not be delivered: {err.message}",
        code=err.code,
        retryable=False,
        evidence="unknown",
    )
    lost.final = True
    return lost


def _usage(batches: list[ImageBatch], input_images: int) -> ImagesUsage | None:
    usages = [b.usage for b in batches if b.usage]
    if not usages:
        return None
    return ImagesUsage.of(
        sum(u.input_tokens for u in usages),
        sum(u.output_tokens for u in usages),
        sum(u.total_tokens for u in usages),
        input_images,
    )


class ImageService:
    def __init__(
        self,
        config: GatewayConfig,
        router: Router,
        engine: Engine,
        client: httpx.AsyncClient,
        keyring: KeyRing,
        state: SharedState | None = None,
        replica: str = "",
        keeper: ResultKeeper | None = None,
    ) -> None:
        self.config = config
        self.router = router
        self.engine = engine
        self.client = client
        self.keyring = keyring
        self.metrics = engine.metrics
        self.image_workers = ImageWorkers(config.image_workers)
        self.deadline_seconds = config.upstream.deadline_seconds
        self.sharing = AnswerSharing(config, router, state or LocalState(), replica)
        #: Copies every returned image into the result store (storage configured), else None.
        self.keeper = keeper
        self._circuit_shown: dict[tuple[str, str], int] = {}
        self._breakers: dict[tuple[str, str], Breaker] = {}

    def breaker(self, route: Route) -> Breaker:
        key = (route.target.name, route.model.id)
        breaker = self._breakers.get(key)
        if breaker is None:
            settings = self.config.circuit_breaker
            breaker = self._breakers[key] = Breaker(settings.failure_threshold, settings.cooldown_seconds)
        return breaker

    async def admit(self, requested: str | None, name: str, prompt: str, n: int) -> None:
        """Raises 403/429 unless this client may make the request now (once per request)."""
        ctx = current_request()
        if ctx is not None and not ctx.admitted:
            ctx.model = name  # only now: an unknown name must never become a metric label
            ctx.requested_model = requested
            ctx.prompt = prompt
            await self.keyring.authorize(ctx.client_key, {requested or name, name}, n)
            ctx.admitted = True

    async def _fingerprint(self, name: str, spec: ImageSpec, output: Output) -> str:
        parts = (
            name,
            spec.prompt,
            spec.n,
            spec.size,
            spec.quality,
            spec.style,
            dict(spec.extras),
            spec.images,
            spec.mask,
            (output.response_format, output.gpt, output.format, output.compression),
        )
        if sum(len(image) for image in spec.images) + len(spec.mask or "") > _HASH_INLINE_LIMIT:
            return await asyncio.to_thread(request_fingerprint, *parts)
        return request_fingerprint(*parts)

    async def run(self, plan: Plan, *, use_cache: bool = True, owner: Owner | None = None) -> Served:
        """The planned images, from the first of its targets that makes them, as an OpenAI images answer.

        ``owner`` names the stored images; default: the current request."""
        ctx = current_request()
        if owner is None:
            owner = owner_of(ctx, stored=self.keeper is not None)
        spec = plan.spec
        key = await self._fingerprint(plan.name, spec, plan.output)
        sharing = self.sharing
        cacheable = self.config.cache.enabled and spec.extras.get("seed") is not None
        if cacheable and use_cache:
            hit = await sharing.cached(key)
            self.metrics.of(self.metrics.cache, "hit" if hit else "miss").inc()
            if hit is not None:
                return self._note(ctx, dataclasses.replace(hit, cache="hit"))
        elif cacheable:
            self.metrics.of(self.metrics.cache, "bypass").inc()
        # Identical requests in flight share one upstream call, per client key.
        flight_key = f"{ctx.client if ctx else ''}:{key}"
        served, joined = await sharing.flight(flight_key, lambda: self._serve(plan, owner))
        if cacheable and len(served.response.data) == spec.n:  # a partial answer is not worth keeping
            await sharing.store(key, served)
        cache = "shared" if joined else ("miss" if cacheable and use_cache else "bypass" if cacheable else None)
        return self._note(ctx, dataclasses.replace(served, cache=cache))

    def _note(self, ctx: RequestContext | None, served: Served) -> Served:
        if ctx is not None:
            ctx.model = served.route.model.id
            ctx.provider = served.route.target.name
            ctx.images = len(served.response.data)
            ctx.size = served.response.size
            ctx.cache = served.cache
        return served

    async def _serve(self, plan: Plan, owner: Owner) -> Served:
        deadline = time.monotonic() + self.deadline_seconds
        try:
            async with asyncio.timeout(self.deadline_seconds):
                return await self._fallback(plan, owner, deadline)
        except TimeoutError:
            raise UpstreamTimeout(
                f"The upstream did not finish within the gateway's {self.deadline_seconds:g}s deadline"
            ) from None

    async def _fallback(self, plan: Plan, owner: Owner, deadline: float) -> Served:
        """Try each target in order; only failures another target could avoid move on."""
        last: ApiError | None = None
        ctx = current_request()
        routes = plan.routes
        for index, route in enumerate(routes):
            if index and last is not None:
                previous = routes[index - 1].target.name
                self.metrics.of(self.metrics.fallbacks, route.model.id, previous, route.target.name).inc()
                if ctx is not None:
                    ctx.fallbacks += 1
            # Built before the breaker is asked: a bad request must not count as (or use up) a probe.
            calls = plan.calls(index)
            breaker = self.breaker(route)
            if not breaker.allow():
                last = ServiceUnavailable(
                    f"Provider '{route.target.name}' is failing for '{route.model.id}' (circuit open)",
                    retry_after=breaker.retry_in(),
                    code="circuit_open",
                )
                continue
            try:
                served = await self._serve_at(route, calls, plan, owner, deadline)
            except ApiError as err:
                self._judge(breaker, err)
                self._circuit_metric(route, breaker)
                if not err.retryable:
                    raise
                last = err
                continue
            except BaseException:
                breaker.release()
                raise
            breaker.success()
            self._circuit_metric(route, breaker)
            return served
        assert last is not None
        raise last

    @staticmethod
    def _judge(breaker: Breaker, err: ApiError) -> None:
        if isinstance(err, QueueFull):
            breaker.release()  # our own queue: says nothing about the upstream
        elif err.retryable:
            breaker.failure()
        else:
            breaker.success()  # the upstream answered (a 4xx is about the request)

    def _circuit_metric(self, route: Route, breaker: Breaker) -> None:
        labels = (route.target.name, route.model.id)
        state = int(breaker.state)
        if self._circuit_shown.get(labels) != state:  # a gauge keeps its value: set it when it changes
            self._circuit_shown[labels] = state
            self.metrics.of(self.metrics.circuit, *labels).set(state)

    async def _serve_at(
        self, route: Route, calls: list[UpstreamCall], plan: Plan, owner: Owner, deadline: float
    ) -> Served:
        ctx = current_request()
        waiting_from = time.monotonic()

        def attributes() -> tracing.Attributes:
            return {
                "gen_ai.operation.name": tracing.DEFAULT_OPERATION,
                "gen_ai.request.model": route.model.id,
                "gen_ai.provider.name": route.target.kind or None,
                "gateway.provider": route.target.name,
                "gateway.images": plan.spec.n,
                "gateway.size_sent": calls[0].size if calls else None,
            }

        try:
            with tracing.span(f"{tracing.DEFAULT_OPERATION} {route.model.id}", attributes, client=True) as span:
                batches = await self.engine.run_calls(route.target, calls, deadline, route.model)
                # Counted as soon as the upstream says what it made: billed, even if a download fails later.
                self._count_cost(route, batches)
                sent = calls[0].size if calls else None
                try:
                    served = await self._answer(
                        route, batches, plan.output, owner, plan.spec.quality, len(plan.spec.images), sent
                    )
                except ApiError as err:
                    raise _made_then_lost(err, batches) from None
                span.set("gateway.images_made", len(served.response.data))
                return served
        finally:
            if ctx is not None:
                ctx.waiting_seconds += time.monotonic() - waiting_from

    async def _answer(
        self,
        route: Route,
        batches: list[ImageBatch],
        output: Output,
        owner: Owner,
        quality: str | None,
        input_images: int,
        size_sent: str | None = None,
    ) -> Served:
        images = [image for batch in batches for image in batch.images]
        urls = [image.url for image in images]
        allowed = route.target.adapter.download_allowed
        blobs = None
        # Inline (data:) results, as OpenAI's own image models give, are answered as b64_json
        # unless a store gives them a URL.
        inline = any(url.startswith("data:") for url in urls)
        if output.response_format == "b64_json" or inline:
            blobs = await fetch_all_b64(self.client, urls, allowed, self.config.downloads)
            if output.format is not None:
                # One task per image: they share the pool, and a departed client's queued ones never start.
                fmt, compression = output.format, output.compression
                blobs = await gather_or_cancel(self.image_workers.run(encode_as, b, fmt, compression) for b in blobs)
        if self.keeper is not None:
            # Stored before the answer leaves: what the client gets outlives the provider's copy.
            model = route.model.id
            if blobs is None:
                urls = await self.keeper.keep_urls(urls, allowed, owner, model)
            else:
                urls = await self.keeper.keep_blobs(blobs, owner, model)
                if output.response_format == "url":
                    blobs = None
        size = next((b.size for b in batches if b.size), None)
        if blobs is None:
            data = [
                ImageData(url=url, revised_prompt=image.revised_prompt) for image, url in zip(images, urls, strict=True)
            ]
        else:
            data = [
                ImageData(b64_json=b64(blob), revised_prompt=image.revised_prompt)
                for image, blob in zip(images, blobs, strict=True)
            ]
            size = size or _image_size(blobs[0])
        labels = (route.target.name, route.model.id)
        self.metrics.of(self.metrics.images, *labels).inc(len(data))
        response = ImagesResponse(
            created=int(time.time()),
            data=data,
            size=f"{size[0]}x{size[1]}" if size else None,
            usage=_usage(batches, input_images),
        )
        if output.gpt:
            response.quality = reported_quality(quality, size)
            response.output_format = output.answer_format
            response.background = "transparent" if output.background == "transparent" else "opaque"
        return Served(response, route, size_sent=size_sent)

    def _count_cost(self, route: Route, batches: list[ImageBatch]) -> None:
        ctx = current_request()  # the request (or job) that made these images pays for them
        labels = (route.target.name, route.model.id)
        price = self.config.prices.get(route.model.id)
        if price:
            made = sum(b.billing.images if b.billing else len(b.images) for b in batches)
            per_image, currency = (price, "configured") if isinstance(price, float) else (price.amount, price.currency)
            self.metrics.of(self.metrics.cost, *labels, currency).inc(per_image * made)
            if ctx is not None:
                ctx.add_cost(per_image * made, currency)
            return
        adapter = route.target.adapter
        if not _prices(type(adapter)):
            return
        for batch in batches:
            cost = cast(Pricer, adapter).estimate(route.model.id, batch)
            if cost is not None:
                self.metrics.of(self.metrics.cost, *labels, cost.currency).inc(cost.amount)
                if ctx is not None:
                    ctx.add_cost(cost.amount, cost.currency)

    async def resume(
        self,
        route: Route,
        tasks: Sequence[tuple[str, int]],
        output: Output,
        owner: Owner,
        quality: str | None = None,
        input_images: int = 0,
    ) -> Served:
        """Finish a job whose tasks an earlier run submitted: poll them, then answer as usual."""
        deadline = time.monotonic() + self.deadline_seconds
        try:
            async with asyncio.timeout(self.deadline_seconds):
                batches = await gather_or_cancel(
                    self.engine.resume(route.target, TaskRef(task_id), n, deadline, route.model) for task_id, n in tasks
                )
                self._count_cost(route, batches)
                return await self._answer(route, batches, output, owner, quality, input_images)
        except TimeoutError:
            raise UpstreamTimeout("The resumed job did not finish within the deadline") from None
