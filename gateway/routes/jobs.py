"""The async job API: ``Prefer: respond-async`` on image routes, then /v1/images/jobs/{id}."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get
from litestar.datastructures import State

from gateway.http.auth import require_client_key
from gateway.http.headers import header
from gateway.http.responses import json_response
from gateway.observability.context import current_request
from gateway.service.jobs import JobRecord, JobService
from gateway.service.jobs import job_view as view
from gateway.service.plan import Plan
from gateway.webhooks import Webhooks
from providers.errors import ApiError, InvalidRequest

__all__ = ["JOB_ROUTES", "accept_webhook", "prefers_async", "submit_job"]


class JobNotFound(ApiError):
    status = 404
    type = "invalid_request_error"
    default_code = "job_not_found"


def prefers_async(request: Request[Any, Any, Any]) -> bool:
    """RFC 7240 ``Prefer: respond-async``."""
    return any(p.strip().lower() == "respond-async" for p in (header(request.scope, b"prefer") or "").split(","))


async def accept_webhook(request: Request[Any, Any, Any], url: str | None, stream: bool | None) -> str | None:
    """The request's ``webhook_url`` once allowed (before anything is planned or sent), else a 400."""
    if url is None:
        return None
    if stream or not prefers_async(request):
        raise InvalidRequest(
            "'webhook_url' calls back when a job ends: send it with 'Prefer: respond-async' (and without stream)",
            param="webhook_url",
            code="webhook_requires_async",
        )
    webhooks: Webhooks = request.app.state.webhooks
    ctx = current_request()
    return await webhooks.accept(url, ctx.client_key if ctx else None)


async def submit_job(request: Request[Any, Any, Any], plan: Plan, webhook_url: str | None = None) -> Response[bytes]:
    """202 with the job; the work runs in the background. The plan has checked the client's
    limits and the request against the target the job uses, and the webhook (if any) was
    accepted: an error was an HTTP error."""
    jobs: JobService = request.app.state.jobs
    ctx = current_request()
    record = await jobs.submit(plan, ctx.client if ctx else None, webhook_url)
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
        if record.result is not None and record.result.size:
            headers["x-gateway-size"] = record.result.size
    return json_response(view(record), headers)


@delete("/v1/images/jobs/{job_id:str}", status_code=200)
async def cancel_job(request: Request[Any, Any, Any], state: State, job_id: str) -> Response[bytes]:
    """Cancel where the provider allows it (DashScope: tasks still queued); 409 otherwise."""
    return json_response(view(await _record(request, state, job_id, cancel=True)))


JOB_ROUTES = [get_job, cancel_job]
