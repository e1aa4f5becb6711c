"""GET on result URLs: the request's picture (a real PNG of the signed size), or the OSS-style refusals."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from .picture import render
from .replies import request_id_of
from .results import Denied, oss_error_xml
from .state import emulator


@get("/results/{owner:str}/{name:str}")
async def download(owner: FromPath[str], name: FromPath[str], request: Request[Any, Any, Any]) -> Response[bytes]:
    emu = emulator(request)
    outcome = emu.signer.check(request.url.path, name, dict(request.query_params), emu.clock.now())
    if isinstance(outcome, Denied):
        rid = request_id_of(request.scope)
        return Response(oss_error_xml(outcome, rid), status_code=outcome.status, media_type="application/xml")
    emu.stats.downloads += 1
    index, spec = outcome
    if spec.mode == "_html":
        return Response(_HTML, status_code=200, media_type="text/html")
    png = render(index, spec)
    return Response(png, status_code=200, media_type="image/png")


_HTML = b"<!DOCTYPE html><html><head><title>Loading</title></head><body>Please wait...</body></html>"
