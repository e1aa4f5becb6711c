"""Runs upstream calls: pace, send, retry with backoff, poll async tasks, all under one deadline."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import httpx
import msgspec

from gateway.engine.pacing import Pacer, wait_turn
from gateway.engine.retry import Backoff
from gateway.engine.transport import TransportError, Upstream
from gateway.observability import tracing
from gateway.observability.context import task_listener
from gateway.observability.metrics import Metrics
from gateway.settings import PacingSettings, UpstreamSettings
from gateway.state import LocalState, SharedState
from providers.base import HttpRequest, HttpResponse, ImageAdapter, ImageBatch, ModelInfo, TaskRef, UpstreamCall
from providers.errors import ApiError, UpstreamError
from providers.kind import NoExtras
from providers.secret import Secret

__all__ = ["Engine", "Target"]

log = logging.getLogger(__name__)

#: Documented rates are paced with a little headroom: sends spaced exactly at the
#: limit can land inside one window upstream after network jitter.
DOCUMENTED_RATE_HEADROOM = 0.9
#: A single poll should never hang on its own for long; the next one will tell.
POLL_READ_TIMEOUT = 30.0
#: Each wait between polls is the schedule's interval give or take this share, so tasks
#: submitted together (thousands in one burst) do not all poll in the same instant.
POLL_JITTER = 0.1
_LABEL_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")
#: What a poll that told nothing (network error, 5xx, throttled, unreadable body) returns.
_UNREADABLE = ImageBatch(images=())


@dataclass(frozen=True, slots=True)
class Target:
    """A provider instance a request is sent to."""

    name: str
    adapter: ImageAdapter
    api_key: Secret | None
    pacing: PacingSettings = field(default_factory=PacingSettings)
    read_timeout: float | None = None
    connect_timeout: float | None = None
    #: The provider parameters (``extra_body``) its kind takes from clients.
    extras: type[msgspec.Struct] = NoExtras
    #: Its provider kind's name (``gen_ai.provider.name`` in traces).
    kind: str = ""


#: Upstream error codes are the upstream's words: the first this many distinct ones are
#: labels, later ones count as "other" (a hostile upstream could name a new one per answer).
MAX_CODE_LABELS = 64


class Engine:
    def __init__(
        self,
        upstream: Upstream,
        settings: UpstreamSettings,
        metrics: Metrics | None = None,
        state: SharedState | None = None,
    ) -> None:
        self.upstream = upstream
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.state: SharedState = state or LocalState()
        self.backoff = Backoff(settings.backoff_initial, settings.backoff_max)
        self.polling = Backoff(settings.poll_initial, settings.poll_max, 1.5)
        self._pacers: dict[tuple[str, str], Pacer] = {}
        self._code_labels: set[str] = set()

    def _code_label(self, err: ApiError) -> str:
        label = _LABEL_SAFE.sub("_", err.upstream_code or err.code or "unknown")[:64]
        if label not in self._code_labels:
            if len(self._code_labels) >= MAX_CODE_LABELS:
                return "other"
            self._code_labels.add(label)
        return label

    def pacer(self, target: Target, model: ModelInfo) -> Pacer:
        pacer = self._pacers.get((target.name, model.id))
        if pacer is None:
            settings = target.pacing
            override = settings.models.get(model.id)
            documented = settings.documented_limits
            documented_rps = model.rps * DOCUMENTED_RATE_HEADROOM if model.rps and documented else None
            pacer = Pacer(
                concurrency=override.concurrency if override else (model.concurrency if documented else None),
                rps=override.rps if override else documented_rps,
                queue_size=settings.queue_size,
                queue_timeout=settings.queue_timeout_seconds,
                state=self.state,
                key=f"{target.name}/{model.id}",
            )
            self._pacers[(target.name, model.id)] = pacer
        return pacer

    def queues(self) -> list[tuple[str, str, int, int | None, float | None]]:
        """Each pacer's (provider, model, requests waiting, concurrency, rps): read-only, for the console."""
        return [(p, m, pacer.waiting, pacer.concurrency, pacer.rps) for (p, m), pacer in self._pacers.items()]

    async def _poll_turn(self, target: Target) -> None:
        # Keyed by the key itself: DashScope's 20 QPS task-query limit is per account key.
        key = target.api_key.fingerprint() if target.api_key else target.name
        await wait_turn(self.state, f"polls/{key}", target.pacing.poll_qps)

    async def run_calls(
        self, target: Target, calls: Sequence[UpstreamCall], deadline: float, model: ModelInfo
    ) -> list[ImageBatch]:
        """The calls' images, in call order.

        Like a task with some failed images, a fanned-out request returns what was made
        (and billed) when some calls fail; only when every call fails is it an error.
        """
        if len(calls) == 1:
            return [await self.run_call(target, calls[0], deadline, model)]
        results = await asyncio.gather(
            *(self.run_call(target, call, deadline, model, index) for index, call in enumerate(calls)),
            return_exceptions=True,
        )
        batches = [r for r in results if isinstance(r, ImageBatch)]
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            if not isinstance(error, ApiError):
                raise error
        if not batches:
            raise errors[0]
        return batches

    async def resume(self, target: Target, task: TaskRef, n: int, deadline: float, model: ModelInfo) -> ImageBatch:
        """The images of a task some earlier run (maybe another replica) submitted."""
        request = target.adapter.poll_request(task)
        async with self.pacer(target, model).slot(deadline):
            return await self._poll(target, UpstreamCall(request, n, creates_task=True), task, deadline, model)

    async def run_call(
        self, target: Target, call: UpstreamCall, deadline: float, model: ModelInfo, index: int = 0
    ) -> ImageBatch:
        pacer = self.pacer(target, model)
        if pacer.semaphore is None:  # no concurrency limit: skip the slot's bookkeeping on the hot path
            self.metrics.of(self.metrics.queue_wait, target.name, model.id).observe(0.0)
            return await self._with_retries(target, call, deadline, model, pacer, index)
        async with pacer.slot(deadline) as waited:
            self.metrics.of(self.metrics.queue_wait, target.name, model.id).observe(waited)
            tracing.record_span("gateway.pacing.wait", waited, {"gateway.pacing": "concurrency"})
            return await self._with_retries(target, call, deadline, model, pacer, index)

    async def _with_retries(
        self, target: Target, call: UpstreamCall, deadline: float, model: ModelInfo, pacer: Pacer, index: int
    ) -> ImageBatch:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(target, call, deadline, model, pacer, index)
            except ApiError as err:
                self.metrics.of(self.metrics.upstream_errors, target.name, model.id, self._code_label(err)).inc()
                if not self._may_retry(err, call, attempt):
                    raise self._final(err, call) from None
                delay = self.backoff.delay(attempt, err.retry_after)
                if time.monotonic() + delay >= deadline:
                    raise
                self.metrics.of(self.metrics.retries, target.name, model.id).inc()
                log.info("retrying %s/%s after %s (attempt %d, %.2fs)", target.name, model.id, err.code, attempt, delay)
                await asyncio.sleep(delay)

    def _may_retry(self, err: ApiError, call: UpstreamCall, attempt: int) -> bool:
        # Only a call the upstream provably turned away (or a task that ended unbilled)
        # is sent again: anything else may have made, and billed, images already.
        return err.retryable and attempt < self.settings.max_attempts and (err.evidence == "refused" or err.task_ended)

    def _final(self, err: ApiError, call: UpstreamCall) -> ApiError:
        if err.evidence == "unknown" and not err.task_ended:
            what = "the task may have been created" if call.creates_task else "the images may have been made"
            return UpstreamError(
                f"{err.message}; {what} upstream, so the call is not sent again",
                retryable=False,
                evidence="unknown",
            )
        return err

    async def _send(
        self, target: Target, request: HttpRequest, model: ModelInfo, kind: str, read_timeout: float
    ) -> HttpResponse:
        started = time.monotonic()
        try:
            return await self.upstream.send(
                request, target.api_key, read_timeout=read_timeout, connect_timeout=target.connect_timeout
            )
        finally:
            elapsed = time.monotonic() - started
            self.metrics.of(self.metrics.upstream_seconds, target.name, model.id, kind).observe(elapsed)

    async def _poll_once(
        self,
        target: Target,
        call: UpstreamCall,
        task: TaskRef,
        request: HttpRequest,
        deadline: float,
        model: ModelInfo,
    ) -> ImageBatch | None:
        """The images, None while the task runs, or _UNREADABLE when this poll told nothing."""
        try:
            response = await self._send(target, request, model, "poll", self._read_timeout(deadline, POLL_READ_TIMEOUT))
        except TransportError:
            return _UNREADABLE
        if response.status == 429 or response.status >= 500:
            return _UNREADABLE
        try:
            return target.adapter.parse_poll(call, task, response)
        except ApiError as err:
            # Only a task that ended upstream may be submitted again; an unreadable or
            # throttled poll (even inside HTTP 200) is just a poll to try again.
            if err.task_ended or not err.retryable:
                raise
            return _UNREADABLE

    def _read_timeout(self, deadline: float, cap: float) -> float:
        return max(0.1, min(cap, deadline - time.monotonic()))

    async def _attempt(
        self, target: Target, call: UpstreamCall, deadline: float, model: ModelInfo, pacer: Pacer, index: int
    ) -> ImageBatch:
        waited = await pacer.send_turn(deadline)
        if waited:
            self.metrics.of(self.metrics.queue_wait, target.name, model.id).observe(waited)
            tracing.record_span("gateway.pacing.wait", waited, {"gateway.pacing": "rate"})
        cap = target.read_timeout or self.settings.read_timeout
        kind = "submit" if call.creates_task else "sync"
        with tracing.span(f"upstream {kind}", lambda: _call_attributes(target, call), client=True) as span:
            response = await self._send(target, call.request, model, kind, self._read_timeout(deadline, cap))
            span.set("http.response.status_code", response.status)
            outcome = target.adapter.parse_result(call, response)
            if span.recording:
                _describe(span, outcome)
        if isinstance(outcome, TaskRef):
            listener = task_listener.get()
            if listener is not None:
                await listener(index, target.name, model.id, call.n, outcome.task_id)
            return await self._poll(target, call, outcome, deadline, model)
        return outcome

    async def _poll(
        self, target: Target, call: UpstreamCall, task: TaskRef, deadline: float, model: ModelInfo
    ) -> ImageBatch:
        interval: float | None = None
        failures = polls = 0
        request = target.adapter.poll_request(task)
        try:
            while True:
                interval = self.polling.poll_interval(interval)
                await asyncio.sleep(poll_delay(interval))
                await self._poll_turn(target)
                polls += 1
                with tracing.span("upstream poll", partial(_poll_attributes, target, task, polls), client=True) as span:
                    batch = await self._poll_once(target, call, task, request, deadline, model)
                    if span.recording:
                        _poll_outcome(span, batch)
                if batch is _UNREADABLE:
                    failures += 1
                    if failures > self.settings.poll_error_limit:
                        # The task may still be running: re-submitting could bill it twice.
                        raise UpstreamError(
                            f"lost track of upstream task {task.task_id} after {failures} failed polls",
                            upstream_request_id=task.upstream_request_id,
                            retryable=False,
                        )
                elif batch is not None:
                    return batch
                else:
                    failures = 0
        finally:
            self.metrics.of(self.metrics.task_polls, target.name, model.id).observe(polls)


def poll_delay(interval: float) -> float:
    """The wait before a poll: ``interval``, spread by :data:`POLL_JITTER` either way."""
    return interval * (1.0 + POLL_JITTER * (2.0 * random.random() - 1.0))


def _call_attributes(target: Target, call: UpstreamCall) -> tracing.Attributes:
    return {
        "http.request.method": call.request.method,
        "server.address": httpx.URL(call.request.url).host,
        "gen_ai.provider.name": target.kind or None,
        "gateway.provider": target.name,
        "gateway.images": call.n,
        "gateway.size_sent": call.size,
    }


def _poll_attributes(target: Target, task: TaskRef, number: int) -> tracing.Attributes:
    return {
        "gen_ai.provider.name": target.kind or None,
        "gateway.provider": target.name,
        "gateway.task_id": task.task_id,
        "gateway.poll": number,
    }


def _poll_outcome(span: tracing.Span, batch: ImageBatch | None) -> None:
    if batch is _UNREADABLE:
        span.set("gateway.task_status", "unknown")
    elif batch is None:
        span.set("gateway.task_status", "running")
    else:
        span.set("gateway.task_status", "done")
        _describe(span, batch)


def _describe(span: tracing.Span, outcome: ImageBatch | TaskRef) -> None:
    """The upstream's own ids (its request id, a task id) and what it made: no URLs, no prompt."""
    span.set("gateway.upstream_request_id", outcome.upstream_request_id)
    if isinstance(outcome, TaskRef):
        span.set("gateway.task_id", outcome.task_id)
    else:
        span.set("gateway.images_made", len(outcome.images))
        if outcome.size:
            span.set("gateway.size", f"{outcome.size[0]}x{outcome.size[1]}")
