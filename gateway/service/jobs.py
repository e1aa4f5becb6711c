"""Async image jobs: submit now, collect later, from any replica.

A job's record (in shared state, with a TTL) holds the upstream task ids as soon
as they exist. The replica running a job refreshes a heartbeat; if it goes away,
the next replica asked about the job takes it over and resumes polling those
tasks, so a long generation does not depend on one pod staying alive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
from cachetools import TTLCache

from gateway.observability.context import RequestContext, current_request, set_current_request, task_listener
from gateway.service.images import ImageService
from gateway.service.output import Output
from gateway.service.plan import Plan
from gateway.settings import JobSettings
from gateway.sharing.records import ErrorRecord, error_record
from gateway.state import SharedState, pod_local
from gateway.storage.base import Owner
from gateway.usage.record import JOB_ROUTE, UsageSink, for_job
from gateway.wire.errors import ErrorBody
from gateway.wire.images import ImagesResponse
from gateway.wire.jobs import JobView
from providers.base import TaskCanceller, TaskRef
from providers.errors import ApiError, InvalidRequest, UpstreamError

__all__ = ["JobRecord", "JobService", "NotCancellable", "job_view"]

log = logging.getLogger(__name__)

#: Jobs :meth:`JobService.recent` remembers per client key.
MAX_LISTED_JOBS = 50

Status = Literal["running", "succeeded", "failed", "cancelled"]


class NotCancellable(InvalidRequest):
    status = 409
    default_code = "job_not_cancellable"


class JobTask(msgspec.Struct, frozen=True):
    index: int
    task_id: str
    n: int


class JobRecord(msgspec.Struct):
    id: str
    status: Status
    created: int
    client: str | None
    model: str
    response_format: str
    owner: str
    heartbeat: float
    provider: str | None = None
    model_id: str | None = None
    #: Upstream calls the job makes, once known; tasks has one entry per async call.
    calls: int = 0
    tasks: list[JobTask] = msgspec.field(default_factory=list)
    #: How the answer is shaped (a record written before this field: as DALL-E answers).
    output: Output | None = None
    #: What the answer echoes and counts (kept for a resume on another replica).
    quality: str | None = None
    input_images: int = 0
    #: ``scheme://host`` the job was submitted at: stored images' URLs point back there.
    origin: str | None = None
    result: ImagesResponse | None = None
    error: ErrorRecord | None = None
    #: Called when the job ends (kept here so a replica resuming the job calls it too).
    webhook_url: str | None = None


def job_view(record: JobRecord) -> JobView:
    """What ``GET /v1/images/jobs/{id}`` answers, and what a webhook carries as ``data``."""
    job = JobView(record.id, "image.generation.job", record.status, record.created, record.model_id or record.model)
    if record.result is not None:
        result = record.result
        job.data, job.size, job.usage = result.data, result.size, result.usage
        job.quality, job.output_format, job.background = result.quality, result.output_format, result.background
    if record.error is not None:
        e = record.error
        job.error = ErrorBody(e.message, e.type, e.param, e.code)
    return job


def _job_context(record: JobRecord) -> None:
    """The job's own request context, on this replica (its limits were applied at submit): it
    collects what the images cost, for the job's usage record, however the job is finished."""
    set_current_request(RequestContext(record.id, "POST", JOB_ROUTE, client=record.client, admitted=True))


def _owner(record: JobRecord) -> Owner:
    """Stored images of a job are named by the job's id (the request that made it is long gone)."""
    return Owner(record.id, record.client, record.origin)


@dataclass
class _Local:
    record: JobRecord
    runner: asyncio.Task[None] | None = None
    beat: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class JobService:
    #: Where a finished job's usage record goes (set by the app when the ledger is on).
    usage: UsageSink | None = None

    def __init__(self, images: ImageService, state: SharedState, settings: JobSettings, replica: str) -> None:
        self.images = images
        self.state = state
        self.settings = settings
        self.replica = replica
        self.local: dict[str, _Local] = {}
        # Finished here and not yet read by their client. Without shared state the
        # result lives only in this process, so a drain waits for these (bounded
        # like the records themselves: by count and by their TTL).
        self.uncollected: TTLCache[str, bool] = TTLCache(maxsize=100_000, ttl=settings.ttl_seconds)
        #: Told of every job that succeeded or failed here, once its record is saved (webhooks).
        self.on_finished: Callable[[JobRecord], Awaitable[None]] | None = None

    @property
    def running(self) -> int:
        return sum(1 for job in self.local.values() if not job.done.is_set())

    @property
    def waiting_collection(self) -> int:
        """Finished jobs whose only copy is in this process (or, for the workers of a pod without
        Redis, in this pod's state file) and which nobody has read yet."""
        return 0 if self.state.distributed and not pod_local(self.state) else len(self.uncollected)

    def delivered(self, job_id: str) -> None:
        """Its webhook carried the result to the client: a drain need not wait for a GET too."""
        self.uncollected.pop(job_id, None)

    async def _collected(self, record: JobRecord) -> None:
        if record.status != "running":
            self.uncollected.pop(record.id, None)
            if pod_local(self.state):  # the worker that finished it may be the one draining
                await self.state.put(f"job-collected/{record.id}", b"1", self.settings.ttl_seconds)

    async def forget_collected(self) -> None:
        """Drop from :attr:`uncollected` the jobs another worker of this pod handed out."""
        if pod_local(self.state):
            for job_id in list(self.uncollected):
                if await self.state.get(f"job-collected/{job_id}") is not None:
                    self.uncollected.pop(job_id, None)

    async def _save(self, record: JobRecord) -> None:
        await self.state.put(f"job/{record.id}", msgspec.json.encode(record), self.settings.ttl_seconds)

    async def load(self, job_id: str, client: str | None) -> JobRecord | None:
        raw = await self.state.get(f"job/{job_id}")
        if raw is None:
            return None
        record = msgspec.json.decode(raw, type=JobRecord)
        return record if record.client == client else None  # other keys' jobs do not exist for you

    async def submit(self, plan: Plan, client: str | None, webhook_url: str | None = None) -> JobRecord:
        """Record the job and start it (the plan checked the request and the client)."""
        ctx = current_request()
        record = JobRecord(
            id=f"imgjob_{os.urandom(12).hex()}",
            status="running",
            created=int(time.time()),
            client=client,
            model=plan.name,
            response_format=plan.output.response_format,
            output=plan.output,
            quality=plan.spec.quality,
            input_images=len(plan.spec.images),
            origin=ctx.origin() if ctx else None,
            owner=self.replica,
            heartbeat=time.time(),
            webhook_url=webhook_url,
        )
        await self._save(record)
        await self._beat(record.id)
        await self._index(record)
        self._start(record, self._generate(record, plan))
        return record

    async def _index(self, record: JobRecord) -> None:
        """Remember the client's newest job ids (capped, with the jobs' TTL) for :meth:`recent`.

        Read-modify-write: two replicas submitting for one key at the same instant may drop
        one id from the index (never the job itself), an acceptable loss for a listing."""
        key = f"jobs-of/{record.client or '-'}"
        raw = await self.state.get(key)
        ids = msgspec.json.decode(raw, type=list[str]) if raw else []
        ids = [record.id, *(i for i in ids if i != record.id)][:MAX_LISTED_JOBS]
        await self.state.put(key, msgspec.json.encode(ids), self.settings.ttl_seconds)

    async def recent(self, client: str | None, limit: int = MAX_LISTED_JOBS) -> list[JobRecord]:
        """This client's newest jobs still kept, newest first."""
        raw = await self.state.get(f"jobs-of/{client or '-'}")
        ids = msgspec.json.decode(raw, type=list[str])[:limit] if raw else []
        found = [await self.load(job_id, client) for job_id in ids]
        return [record for record in found if record is not None]

    def _start(self, record: JobRecord, work: Coroutine[Any, Any, None]) -> None:
        job = self.local[record.id] = _Local(record)

        async def run() -> None:
            set_current_request(None)  # the submitting request is over: limits were applied then
            try:
                await work
            except asyncio.CancelledError:
                pass  # cancelled via DELETE (already recorded) or the process is stopping
            except Exception as exc:  # never leave a job "running" forever
                log.exception("job %s failed unexpectedly", record.id)
                await self._finish(
                    record, UpstreamError(f"The job failed in the gateway ({type(exc).__name__})", retryable=False)
                )
            finally:
                job.done.set()
                if job.beat is not None:
                    job.beat.cancel()
                self.local.pop(record.id, None)

        job.runner = asyncio.create_task(run())
        job.beat = asyncio.create_task(self._heartbeat(job))

    async def _beat(self, job_id: str) -> None:
        # A key of its own: rewriting the whole record could overwrite a status another
        # replica just wrote (a cancel).
        await self.state.put(f"job-beat/{job_id}", str(time.time()).encode(), self.settings.ttl_seconds)

    async def _heartbeat(self, job: _Local) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            if await self._cancelled(job.record.id) and job.runner:
                job.runner.cancel()  # another replica took a DELETE for it
                return
            await self._beat(job.record.id)

    async def _cancelled(self, job_id: str) -> bool:
        return await self.state.get(f"job-cancel/{job_id}") is not None

    async def _finish(self, record: JobRecord, outcome: ImagesResponse | ApiError) -> None:
        if await self._cancelled(record.id):
            return  # a DELETE won: its "cancelled" stays
        if isinstance(outcome, ApiError):
            record.status, record.error = "failed", error_record(outcome)
        else:
            record.status, record.result = "succeeded", outcome
        record.heartbeat = time.time()
        await self._save(record)
        self.uncollected[record.id] = True
        if self.on_finished is not None:
            await self.on_finished(record)  # after the save: a receiver that GETs the job sees it ended
        if self.usage is not None:  # the job's one usage record: its 202 wrote none
            self.usage.record(
                for_job(
                    current_request(),
                    outcome,
                    job_id=record.id,
                    client=record.client,
                    requested=record.model,
                    model=record.model_id,
                    provider=record.provider,
                    created=record.created,
                )
            )

    async def _generate(self, record: JobRecord, plan: Plan) -> None:
        async def note_task(index: int, provider: str, model_id: str, n: int, task_id: str) -> None:
            record.provider, record.model_id = provider, model_id
            record.tasks = [t for t in record.tasks if t.index != index] + [JobTask(index, task_id, n)]
            await self._save(record)

        route = plan.routes[0]
        record.provider, record.model_id = route.target.name, route.model.id
        record.calls = len(plan.calls(0))
        _job_context(record)
        task_listener.set(note_task)
        try:
            served = await self.images.run(plan, owner=_owner(record))
        except ApiError as err:
            await self._finish(record, err)
            return
        record.provider, record.model_id = served.route.target.name, served.route.model.id
        await self._finish(record, served.response)

    async def _stale(self, record: JobRecord) -> bool:
        if record.owner == self.replica:
            return False
        beat = await self.state.get(f"job-beat/{record.id}")
        last = float(beat) if beat else record.heartbeat
        return time.time() - last > self.settings.stale_after_seconds

    async def get(self, job_id: str, client: str | None) -> JobRecord | None:
        """The job as it stands; takes it over when the replica running it has gone."""
        record = await self.load(job_id, client)
        if record is None or record.status != "running" or not await self._stale(record):
            if record is not None:
                await self._collected(record)
            return record
        if await self.state.claim(f"job-takeover/{job_id}/{record.owner}", self.replica, self.settings.ttl_seconds):
            log.info("resuming job %s: its replica stopped answering", job_id)
            record.owner, record.heartbeat = self.replica, time.time()
            await self._save(record)
            await self._beat(record.id)
            self._start(record, self._resume(record))
        return record

    async def _resume(self, record: JobRecord) -> None:
        _job_context(record)
        route = self.images.router.route_to(record.provider or "", record.model_id or "")
        tasks = sorted(record.tasks, key=lambda t: t.index)
        if route is None or not record.calls or len(tasks) < record.calls:
            # A sync call, or a submit not yet acknowledged: nothing upstream to pick up safely.
            await self._finish(
                record,
                UpstreamError(
                    "The job was interrupted before its upstream tasks were created; submit it again", retryable=False
                ),
            )
            return
        try:
            output = record.output or Output(response_format=record.response_format)
            tasks_n = [(t.task_id, t.n) for t in tasks]
            served = await self.images.resume(
                route, tasks_n, output, _owner(record), record.quality, record.input_images
            )
        except ApiError as err:
            await self._finish(record, err)
            return
        await self._finish(record, served.response)

    async def cancel(self, job_id: str, client: str | None) -> JobRecord | None:
        record = await self.load(job_id, client)
        if record is None:
            return None
        if record.status != "running":
            raise NotCancellable(f"The job has already {record.status}", param="id")
        route = self.images.router.route_to(record.provider or "", record.model_id or "")
        adapter = route.target.adapter if route else None
        if route is None or not isinstance(adapter, TaskCanceller) or len(record.tasks) < max(1, record.calls):
            raise NotCancellable("This job cannot be cancelled: its model runs synchronously upstream", param="id")
        cancelled = 0
        for task in record.tasks:
            response = await self.images.engine.upstream.send(
                adapter.cancel_request(TaskRef(task.task_id)), route.target.api_key, read_timeout=30
            )
            cancelled += adapter.cancelled(response)
        if not cancelled:
            raise NotCancellable(
                "The upstream task has already started; its provider cancels only tasks still queued", param="id"
            )
        # With some of its tasks cancelled the job cannot complete: it is cancelled as a whole.
        await self.state.put(f"job-cancel/{job_id}", b"1", self.settings.ttl_seconds)
        local = self.local.get(job_id)
        if local is not None and local.runner is not None:
            local.runner.cancel()
            await local.done.wait()
        record.status = "cancelled"
        await self._save(record)
        await self._collected(record)
        return record

    async def aclose(self) -> None:
        for job in list(self.local.values()):
            for task in (job.runner, job.beat):
                if task is not None:
                    task.cancel()
