"""The async job API: ``Prefer: respond-async`` on image routes, then /v1/images/jobs/{id}."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get
from litestar.datastructures import State

from gateway.http.auth import require_client_key
from gateway.http.responses import json_response
from gateway.observability.context import current_request
from gateway.service.jobs import JobRecord, JobService
from gateway.service.plan import Plan
from gateway.wire.errors import ErrorBody
from gateway.wire.jobs import JobView
from providers.errors import ApiError

__all__ = ["JOB_ROUTES", "prefers_async", "submit_job"]


class JobNotFound(ApiError):
    status = 404
    type = "invalid_request_error"
    default_code = "job_not_found"


def prefers_async(request: Request[Any, Any, Any]) -> bool:
    """RFC 7240 ``Prefer: respond-async``."""
    return any(p.strip().lower() == "respond-async" for p in request.headers.get("prefer", "").split(","))


def view(record: JobRecord) -> JobView:
    job = JobView(record.id, "image.generation.job", record.status, record.created, record.model_id or record.model)
    if record.result is not None:
        result = record.result
        job.data, job.size, job.usage = result.data, result.size, result.usage
        job.quality, job.output_format, job.background = result.quality, result.output_format, result.background
    if record.error is not None:
        e = record.error
        job.error = ErrorBody(e.message, e.type, e.param, e.code)
    return job


async def submit_job(request: Request[Any, Any, Any], plan: Plan) -> Response[bytes]:
    """202 with the job; the work runs in the background. The plan has checked the client's
    limits and the request against the target the job uses: an error was an HTTP error."""
    jobs: JobService = request.app.state.jobs
    ctx = current_request()
    record = await jobs.submit(plan, ctx.client if ctx else None)
    if ctx is not None:
        ctx.usage_deferred = True  # the job writes its usage record when it ends
    headers = {"location": f"/v1/images/jobs/{record.id}", "preference-applied": "respond-async"}
    return json_response(view(record), headers, 202)


async def _record(request: Request[Any, Any, Any], state: State, job_id: str, cancel: bool = False) -> JobRecord:
    require_client_key(request)
    ctx = current_request()
    client = ctx.client if ctx else None
    jobs: JobService = state.jobs
    record = await (jobs.cancel(job_id, client) if cancel else jobs.get(job_id, client))
    if record is None:
        raise JobNotFound(f"No job '{job_id}' (jobs are kept 24 h, and only for the key that made them)", param="id")
    return record


@get("/v1/images/jobs/{job_id:str}")
async def get_job(request: Request[Any, Any, Any], state: State, job_id: str) -> Response[bytes]:
    """The job's status; once it succeeded, the images answer itself (with id and status)."""
    record = await _record(request, state, job_id)
    headers = {}
    if record.provider and record.status == "succeeded":
        headers = {"x-gateway-provider": record.provider, "x-gateway-model": record.model_id or record.model}
    return json_response(view(record), headers)


@delete("/v1/images/jobs/{job_id:str}", status_code=200)
async def cancel_job(request: Request[Any, Any, Any], state: State, job_id: str) -> Response[bytes]:
    """Cancel where the provider allows it (DashScope: tasks still queued); 409 otherwise."""
    return json_response(view(await _record(request, state, job_id, cancel=True)))


JOB_ROUTES = [get_job, cancel_job]
