"""Input images of edits and chat requests, checked against the model before anything is sent.

Uploaded files and ``data:`` URIs are inspected (format by magic bytes, bytes,
sides, aspect ratio; alpha flattened for models that reject it) and go upstream
as ``data:`` URIs, which DashScope takes and which avoid hot-link-protected
hosts. ``http(s)`` URLs pass through as they are: fetching them here would make
the gateway an open fetcher and cost a round trip the provider makes anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gateway.service.imagework import ImageWorkers
from gateway.wire.images import EditRequest
from providers.base import ModelInfo
from providers.errors import InvalidRequest, UnsupportedParameter
from providers.images import ImageLimits, decode_data_uri, prepare_image, to_data_uri

__all__ = [
    "Prepared",
    "Reference",
    "check_count",
    "json_mask",
    "json_references",
    "prepare_references",
    "require_edits",
]


@dataclass(frozen=True, slots=True)
class Reference:
    """One input image as the client sent it: uploaded bytes, or a URL / data URI."""

    label: str
    data: bytes | None = None
    uri: str | None = None

    def __repr__(self) -> str:
        return f"Reference({self.label})"


@dataclass(frozen=True, slots=True)
class Prepared:
    uris: tuple[str, ...]
    #: Width and height of the last image, when known (URLs are not fetched).
    last_size: tuple[int, int] | None


def require_edits(info: ModelInfo, name: str) -> None:
    """400 unless the model takes input images at all."""
    if info.kind != "image":
        raise InvalidRequest(
            f"'{name}' is a chat model: it makes no images", param="model", code="model_not_image_capable"
        )
    if not info.edits:
        raise InvalidRequest(
            f"Model '{name}' does not take input images; use an edit-capable model "
            "(GET /v1/models lists them with capabilities.edits)",
            param="model",
            code="model_not_edit_capable",
        )


def check_count(info: ModelInfo, name: str, count: int, param: str) -> None:
    low, high = info.images
    if not low <= count <= high:
        what = f"{low}..{high}" if low != high else str(low)
        raise InvalidRequest(
            f"Model '{name}' takes {what} input images, got {count}", param=param, code="invalid_image_count"
        )


def _one(ref: Reference, limits: ImageLimits, param: str) -> tuple[str, tuple[int, int] | None]:
    data = ref.data
    if data is None:
        uri = (ref.uri or "").strip()
        if not uri.startswith("data:"):
            parts = urlsplit(uri)
            if parts.scheme in ("http", "https") and parts.hostname:
                return uri, None
            raise InvalidRequest(
                f"{ref.label} must be an http(s) URL or a data: URI", param=param, code="invalid_image"
            )
        data = decode_data_uri(uri, label=ref.label, param=param)
    image = prepare_image(data, limits, label=ref.label, param=param)
    return to_data_uri(image), (image.width, image.height)


def _prepare(refs: Sequence[Reference], limits: ImageLimits, param: str) -> Prepared:
    done = [_one(ref, limits, param) for ref in refs]
    return Prepared(tuple(uri for uri, _ in done), done[-1][1] if done else None)


async def prepare_references(
    refs: Sequence[Reference], info: ModelInfo, workers: ImageWorkers, *, param: str = "image"
) -> Prepared:
    """Every reference as it goes upstream, in order. Raises InvalidRequest naming ``param``."""
    limits = ImageLimits.of(info)
    if all(ref.data is None and not (ref.uri or "").lstrip().startswith("data:") for ref in refs):
        return _prepare(refs, limits, param)  # URLs only: nothing to decode
    # Not judged by size: a few KB of PNG can hold 64 megapixels to flatten.
    return await workers.run(_prepare, refs, limits, param)


def _json_reference(value: Any, index: int) -> Reference:
    label = f"image {index}"
    if isinstance(value, str):
        return Reference(label, uri=value)
    if isinstance(value, dict):
        url = value.get("image_url", value.get("url"))
        if isinstance(url, dict):
            url = url.get("url")
        if isinstance(url, str):
            return Reference(label, uri=url)
        if "file_id" in value:
            raise UnsupportedParameter(f"{label}: file_id references are not supported; send image_url", param="image")
    raise InvalidRequest(
        f'{label} must be a URL, a data: URI or {{"image_url": ...}}', param="image", code="invalid_image"
    )


def json_mask(req: EditRequest) -> Reference | None:
    """A JSON edit's ``mask``: a data: URI (or URL), or OpenAI's ``{"image_url": ...}``."""
    value = req.mask
    if value in (None, "", [], {}):
        return None
    if isinstance(value, dict):
        value = value.get("image_url", value.get("url"))
        if isinstance(value, dict):
            value = value.get("url")
    if not isinstance(value, str):
        raise InvalidRequest('mask must be a data: URI or {"image_url": ...}', param="mask", code="invalid_image")
    return Reference("the mask", uri=value)


def json_references(req: EditRequest) -> list[Reference]:
    refs: list[Reference] = []
    for value in (req.image, req.images):
        items = value if isinstance(value, list) else [] if value is None else [value]
        for item in items:
            refs.append(_json_reference(item, len(refs) + 1))
    return refs
