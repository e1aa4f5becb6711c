"""``GET /v1/images/files/{name}``: stored images, for whoever holds a signed URL (no key needed)."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, get
from litestar.datastructures import State
from litestar.response import File

from gateway.storage.local import LocalStore
from gateway.storage.naming import CONTENT_TYPES
from providers.errors import ApiError, PermissionDenied

__all__ = ["FILE_ROUTES"]

#: CDNs in front may keep a file this long at most (the URL itself may live longer).
_MAX_CACHE_SECONDS = 86400


class FileNotFound(ApiError):
    status = 404
    type = "invalid_request_error"
    default_code = "file_not_found"


@get("/v1/images/files/{name:path}")
async def get_file(request: Request[Any, Any, Any], state: State, name: str) -> File:
    store = state.store
    name = name.lstrip("/")
    if not isinstance(store, LocalStore):
        raise FileNotFound("This gateway keeps no files (storage.kind is not local)")
    path = store.path_of(name)
    if path is None:
        raise FileNotFound(f"No stored image {name!r}", param="name")
    verdict = store.check(name, request.query_params.get("expires", ""), request.query_params.get("signature", ""))
    if verdict == "invalid":
        raise PermissionDenied(
            "The URL's signature does not match: use the URL exactly as returned", code="invalid_signature"
        )
    if verdict == "expired":
        raise PermissionDenied("The URL has expired: request the image again for a new one", code="url_expired")
    if not path.is_file():
        raise FileNotFound("The stored image is gone (past the store's retention)", param="name")
    remaining = int(request.query_params["expires"]) - int(time.time())
    return File(
        path=path,
        media_type=CONTENT_TYPES[path.suffix.lstrip(".")],
        content_disposition_type="inline",
        filename=path.name,
        headers={"cache-control": f"public, max-age={max(0, min(remaining, _MAX_CACHE_SECONDS))}, immutable"},
    )


FILE_ROUTES = [get_file]
