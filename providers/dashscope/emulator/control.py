"""Test-only control routes under ``/__emulator__/`` (not part of DashScope)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post

from .errors import invalid
from .replies import JSON
from .state import emulator

AnyRequest = Request[Any, Any, Any]


class ClockAdvance(msgspec.Struct):
    advance_seconds: float


def _json(body: Any) -> Response[bytes]:
    return Response(msgspec.json.encode(body), status_code=200, media_type=JSON)


@get("/__emulator__/requests")
async def received_requests(request: AnyRequest) -> Response[bytes]:
    return _json(list(emulator(request).requests))


@delete("/__emulator__/requests", status_code=204)
async def clear_requests(request: AnyRequest) -> None:
    emulator(request).requests.clear()


@post("/__emulator__/clock", status_code=200)
async def advance_clock(request: AnyRequest) -> Response[bytes]:
    emu = emulator(request)
    try:
        body = msgspec.json.decode(await request.body(), type=ClockAdvance)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise invalid(f'Expected {{"advance_seconds": N}}: {exc}') from None
    if body.advance_seconds < 0:
        raise invalid("The clock only moves forward.")
    emu.clock.advance(body.advance_seconds)
    return _json({"now": emu.clock.now(), "offset_seconds": emu.clock.offset})


@get("/__emulator__/stats")
async def stats(request: AnyRequest) -> Response[bytes]:
    return _json(emulator(request).stats.as_dict())


ROUTES = [received_requests, clear_requests, advance_clock, stats]
