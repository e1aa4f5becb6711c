"""The Litestar application of the emulator."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException

from . import compat, control, native
from .config import EmulatorConfig
from .downloads import download
from .errors import EmuError, internal, not_found
from .replies import error_reply, request_id_header, request_id_of
from .state import Emulator, emulator

_log = logging.getLogger(__name__)
AnyRequest = Request[Any, Any, Any]
# data: URIs of up to 20 MB images (wan2.7) grow by a third in base64.
# wan2.7 takes 9 images of 20 MB: as base64 in JSON that is about 240 MB.
MAX_BODY_BYTES = 256 * 1024 * 1024


async def _record(request: AnyRequest) -> None:
    if not request.url.path.startswith("/__emulator__/"):
        emulator(request).record(request, await request.body())


def _on_emu_error(request: AnyRequest, exc: EmuError) -> Response[bytes]:
    return error_reply(exc, request_id_of(request.scope))


def _on_compat_error(request: AnyRequest, exc: compat.CompatError) -> Response[bytes]:
    return compat.compat_error_reply(exc, request_id_of(request.scope))


def _on_not_found(request: AnyRequest, exc: NotFoundException) -> Response[bytes]:
    emulator(request).record(request, b"")  # unmatched paths never reach the before_request hook
    return error_reply(not_found(request.url.path), request_id_of(request.scope))


_HTTP_CODES = {400: "InvalidParameter", 405: "MethodNotAllowed", 413: "RequestEntityTooLarge"}


def _on_http_error(request: AnyRequest, exc: HTTPException) -> Response[bytes]:
    code = _HTTP_CODES.get(exc.status_code, "InternalError" if exc.status_code >= 500 else "BadRequest")
    return error_reply(EmuError(exc.status_code, code, exc.detail), request_id_of(request.scope))


def _on_crash(request: AnyRequest, exc: Exception) -> Response[bytes]:
    _log.exception("emulator error on %s %s", request.method, request.url.path)
    return error_reply(internal(), request_id_of(request.scope))


def create_app(config: EmulatorConfig | None = None) -> Litestar:
    """A fresh emulator: its own tasks, clock, counters and request log."""
    emu = Emulator(config or EmulatorConfig())
    return Litestar(
        route_handlers=[*native.ROUTES, *compat.ROUTES, *control.ROUTES, download],
        state=State({"emulator": emu}),
        before_request=_record,
        exception_handlers={
            EmuError: _on_emu_error,
            compat.CompatError: _on_compat_error,
            NotFoundException: _on_not_found,
            HTTPException: _on_http_error,
            Exception: _on_crash,
        },
        middleware=[request_id_header],
        openapi_config=None,
        request_max_body_size=MAX_BODY_BYTES,
    )
