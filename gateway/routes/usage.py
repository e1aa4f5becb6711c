"""``GET /admin/usage``: the usage ledger's totals, grouped, as JSON or CSV (admin key)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State

from gateway.http.auth import require_admin
from gateway.runtime import Runtime
from gateway.usage.query import parse_query
from providers.errors import ApiError, InvalidRequest, ServiceUnavailable

__all__ = ["USAGE_ROUTES"]

log = logging.getLogger(__name__)


class UsageDisabled(ApiError):
    status = 404
    type = "invalid_request_error"
    default_code = "usage_disabled"


@get("/admin/usage")
async def admin_usage(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    """``?from=&to=&group_by=key,model,provider,day&format=json|csv``: totals per group and currency."""
    require_admin(request)
    params = request.query_params
    query = parse_query(params.get("from"), params.get("to"), params.get("group_by"), params.get("format"))
    runtime: Runtime = state.runtime
    ledger = runtime.ledger
    if ledger is None:
        raise UsageDisabled("The usage ledger is off (usage.enabled: false)")
    from gateway.usage.database import describe_error
    from gateway.usage.report import render, totals

    def run() -> tuple[bytes, str]:
        return render(totals(ledger.engine(), query), query)

    try:
        body, media_type = await asyncio.to_thread(run)
    except InvalidRequest:
        raise
    except Exception as exc:  # the database, not the request: say so without its address
        log.warning("usage report failed: %s", describe_error(exc))
        raise ServiceUnavailable("The usage database is unreachable") from None
    return Response(body, media_type=media_type)


USAGE_ROUTES = [admin_usage]
