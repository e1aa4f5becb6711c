"""Operations endpoints: liveness, readiness, Prometheus metrics, admin key status."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State

from gateway.http.auth import require_admin
from gateway.http.responses import json_response
from gateway.observability.keystatus import check_keys, publish
from gateway.observability.metrics import CONTENT_TYPE_LATEST
from gateway.runtime import Runtime

__all__ = ["OPS_ROUTES"]


@get("/healthz", sync_to_thread=False)
def healthz() -> Response[bytes]:
    """Alive: the process answers. Never touches an upstream."""
    return json_response({"status": "ok"})


@get("/readyz", sync_to_thread=False)
def readyz(state: State) -> Response[bytes]:
    """Ready for traffic: configuration loaded, started, not draining. Never touches an upstream."""
    runtime: Runtime = state.runtime
    checks: dict[str, Any] = {"config": "loaded", "started": runtime.ready, "draining": runtime.draining}
    checks.update(runtime.readiness_details())
    ok = runtime.ready and not runtime.draining
    return json_response({"status": "ready" if ok else "not ready", "checks": checks}, status=200 if ok else 503)


@get("/metrics", sync_to_thread=False)
def metrics(state: State) -> Response[bytes]:
    runtime: Runtime = state.runtime
    return Response(runtime.metrics.expose(), media_type=CONTENT_TYPE_LATEST)


@get("/admin/keys")
async def admin_keys(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    """Each provider key: set or not, accepted or not (zero-cost probe), a fingerprint; never the key."""
    require_admin(request)
    runtime: Runtime = state.runtime
    statuses = await check_keys(state.upstream, list(state.targets.values()))
    publish(runtime.metrics, statuses)
    return json_response({"object": "list", "data": [s.as_dict() for s in statuses]})


OPS_ROUTES = [healthz, readyz, metrics, admin_keys]
