"""Runs upstream calls: send, retry with backoff, poll async tasks, all under one deadline."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.engine.gather import gather_or_cancel
from gateway.engine.retry import Backoff
from gateway.engine.transport import TransportError, Upstream
from gateway.settings import UpstreamSettings
from providers.base import ImageAdapter, ImageBatch, TaskRef, UpstreamCall
from providers.errors import ApiError, UpstreamError
from providers.secret import Secret

__all__ = ["Engine", "Target"]

log = logging.getLogger(__name__)

#: A single poll should never hang on its own for long; the next one will tell.
POLL_READ_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Target:
    """A provider instance a request is sent to."""

    name: str
    adapter: ImageAdapter
    api_key: Secret | None


class Engine:
    def __init__(self, upstream: Upstream, settings: UpstreamSettings) -> None:
        self.upstream = upstream
        self.settings = settings
        self.backoff = Backoff(settings.backoff_initial, settings.backoff_max)
        self.polling = Backoff(settings.poll_initial, settings.poll_max, 1.5)

    async def run_calls(self, target: Target, calls: Sequence[UpstreamCall], deadline: float) -> list[ImageBatch]:
        """Every call's images, in call order; the first failure cancels the rest."""
        if len(calls) == 1:
            return [await self.run_call(target, calls[0], deadline)]
        return await gather_or_cancel(self.run_call(target, call, deadline) for call in calls)

    async def run_call(self, target: Target, call: UpstreamCall, deadline: float) -> ImageBatch:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(target, call, deadline)
            except ApiError as err:
                if not self._may_retry(err, call, attempt):
                    raise
                delay = self.backoff.delay(attempt, err.retry_after)
                if time.monotonic() + delay >= deadline:
                    raise
                log.info("retrying %s after %s (attempt %d, %.2fs)", target.name, err.code, attempt, delay)
                await asyncio.sleep(delay)

    def _may_retry(self, err: ApiError, call: UpstreamCall, attempt: int) -> bool:
        if not err.retryable or attempt >= self.settings.max_attempts:
            return False
        # A submit that may have reached DashScope may have created (and will bill) a task.
        return not (call.creates_task and isinstance(err, TransportError) and not err.nothing_sent)

    def _read_timeout(self, deadline: float, cap: float) -> float:
        return max(0.1, min(cap, deadline - time.monotonic()))

    async def _attempt(self, target: Target, call: UpstreamCall, deadline: float) -> ImageBatch:
        response = await self.upstream.send(
            call.request, target.api_key, read_timeout=self._read_timeout(deadline, self.settings.read_timeout)
        )
        outcome = target.adapter.parse_result(call, response)
        if isinstance(outcome, TaskRef):
            return await self._poll(target, call, outcome, deadline)
        return outcome

    async def _poll(self, target: Target, call: UpstreamCall, task: TaskRef, deadline: float) -> ImageBatch:
        interval: float | None = None
        failures = 0
        request = target.adapter.poll_request(task)
        while True:
            interval = self.polling.poll_interval(interval)
            await asyncio.sleep(interval)
            try:
                response = await self.upstream.send(
                    request, target.api_key, read_timeout=self._read_timeout(deadline, POLL_READ_TIMEOUT)
                )
                transient = response.status == 429 or response.status >= 500
            except TransportError:
                transient = True
            if transient:
                failures += 1
                if failures > self.settings.poll_error_limit:
                    # The task may still be running: re-submitting could bill it twice.
                    raise UpstreamError(
                        f"lost track of upstream task {task.task_id} after {failures} failed polls",
                        upstream_request_id=task.upstream_request_id,
                        retryable=False,
                    )
                continue
            failures = 0
            batch = target.adapter.parse_poll(call, task, response)
            if batch is not None:
                return batch
