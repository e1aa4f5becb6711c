"""The native DashScope routes: async submits, the sync multimodal call (JSON or SSE) and the task API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Stream

from .errors import MSG_CANCEL, EmuError
from .faults import SYNC_AFTER, SYNC_BEFORE, raise_marked
from .plan import Slot, plan_slots, successes
from .replies import json_reply, request_id_of
from .responses import sync_output, sync_usage, task_view
from .rules import Endpoint
from .sse import error_frame, result_frames
from .state import Emulator, emulator
from .task_list import task_list
from .validation import Job
from .wire import RequestIdOnly, SubmitOutput, SubmitResponse, SyncResponse, TaskOutput, TaskResponse

AIGC = "/api/v1/services/aigc"
AnyRequest = Request[Any, Any, Any]


async def _submit(endpoint: Endpoint, request: AnyRequest) -> Response[bytes]:
    emu, rid = emulator(request), request_id_of(request.scope)
    emu.stats.submits += 1
    key = emu.authenticate(request)
    job = emu.validate(endpoint, request, await request.body())
    emu.admit(job, key)
    task = emu.submit(job, key, rid)
    return json_reply(SubmitResponse(SubmitOutput("PENDING", task.task_id), rid), rid)


@post(f"{AIGC}/text2image/image-synthesis", status_code=200)
async def text2image(request: AnyRequest) -> Response[bytes]:
    return await _submit(Endpoint.TEXT2IMAGE, request)


@post(f"{AIGC}/image2image/image-synthesis", status_code=200)
async def image2image(request: AnyRequest) -> Response[bytes]:
    return await _submit(Endpoint.IMAGE2IMAGE, request)


@post(f"{AIGC}/image-generation/generation", status_code=200)
async def image_generation(request: AnyRequest) -> Response[bytes]:
    return await _submit(Endpoint.IMAGE_GENERATION, request)


def admit_sync(emu: Emulator, job: Job, key: str) -> None:
    """What follows validation before a sync generation starts: limits, refusal faults, input moderation."""
    emu.admit(job, key)
    raise_marked(job.faults, SYNC_BEFORE)
    emu.stats.models[job.model] += 1


async def _accept_sync(emu: Emulator, request: AnyRequest) -> Job:
    emu.stats.sync_calls += 1
    key = emu.authenticate(request)
    job = emu.validate(Endpoint.MULTIMODAL, request, await request.body())
    admit_sync(emu, job, key)
    return job


async def generate(emu: Emulator, job: Job, request: AnyRequest) -> tuple[Slot, ...]:
    """Waits out the generation time, then applies output-stage faults."""
    if job.faults.has("stuck"):
        while (await request.receive())["type"] != "http.disconnect":
            pass
        raise EmuError(500, "RequestTimeOut", "Request timed out, please try again later.")
    delay = emu.latency(job)
    if delay > 0:
        await asyncio.sleep(delay)
    raise_marked(job.faults, SYNC_AFTER)
    return plan_slots(job)


@post(f"{AIGC}/multimodal-generation/generation", status_code=200)
async def multimodal(request: AnyRequest) -> Response[Any]:
    emu, rid = emulator(request), request_id_of(request.scope)
    sse = request.headers.get("x-dashscope-sse", "").lower() == "enable"
    try:
        job = await _accept_sync(emu, request)
    except EmuError as err:
        if not sse:
            raise
        return Response(error_frame(err, rid), status_code=err.status, media_type="text/event-stream")
    if sse:
        return Stream(_sse_frames(emu, job, request, rid), media_type="text/event-stream")
    slots = await generate(emu, job, request)
    links = emu.links(request, rid, emu.clock.now(), job)
    body = SyncResponse(sync_output(job, slots, links), sync_usage(job, len(successes(slots))), rid)
    return json_reply(body, rid)


async def _sse_frames(emu: Emulator, job: Job, request: AnyRequest, rid: str) -> AsyncIterator[bytes]:
    if job.faults.has("stuck"):
        await asyncio.Event().wait()  # the Stream response stops us when the client goes away
    try:
        raise_marked(job.faults, SYNC_AFTER)
    except EmuError as err:
        await asyncio.sleep(emu.latency(job))
        yield error_frame(err, rid)
        return
    slots = plan_slots(job)
    frames = result_frames(job, slots, emu.links(request, rid, emu.clock.now(), job), rid)
    for chunk in frames:
        # Spread the generation time over the frames, as a streaming model would.
        await asyncio.sleep(emu.latency(job) / len(frames))
        yield chunk


@get("/api/v1/tasks/{task_id:str}")
async def get_task(task_id: FromPath[str], request: AnyRequest) -> Response[bytes]:
    emu, rid = emulator(request), request_id_of(request.scope)
    key = emu.authenticate(request)
    emu.check_query_rate(key)
    emu.stats.polls[task_id] += 1
    task = emu.tasks.get(task_id)
    status = task.status(emu.clock.now()) if task else "UNKNOWN"
    if task is None or status == "UNKNOWN":
        return json_reply(TaskResponse(rid, TaskOutput(task_id=task_id, task_status="UNKNOWN")), rid)
    output, usage = task_view(task, status, emu.links(request, task.task_id, task.end, task.job))
    return json_reply(TaskResponse(rid, output, usage), rid)


@post("/api/v1/tasks/{task_id:str}/cancel", status_code=200)
async def cancel_task(task_id: FromPath[str], request: AnyRequest) -> Response[bytes]:
    emu, rid = emulator(request), request_id_of(request.scope)
    emu.authenticate(request)
    task = emu.tasks.get(task_id)
    if task is None or not emu.tasks.cancel(task, emu.clock.now()):
        raise EmuError(400, "UnsupportedOperation", MSG_CANCEL)
    emu.stats.cancels += 1
    return json_reply(RequestIdOnly(rid), rid)


@get("/api/v1/tasks")
async def list_tasks(request: AnyRequest) -> Response[bytes]:
    emu, rid = emulator(request), request_id_of(request.scope)
    emu.authenticate(request)
    return json_reply(task_list(emu, dict(request.query_params), rid), rid)


ROUTES = [text2image, image2image, image_generation, multimodal, get_task, cancel_task, list_tasks]
