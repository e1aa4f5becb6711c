"""A small provider kind of the tests' own: "sketch", a made-up render API.

``POST {base_url}/v1/render`` with ``{"text", "count", "width", "height", "palette"}``
answers ``{"id", "images": [{"href"}]}``. It has nothing in common with DashScope or
OpenAI, so serving it proves a kind plugs in without the gateway knowing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from providers.base import (
    GeneratedImage,
    HttpRequest,
    HttpResponse,
    ImageAdapter,
    ImageBatch,
    ImageSpec,
    ModelInfo,
    TaskRef,
    UpstreamCall,
)
from providers.errors import InvalidRequest, UpstreamAuthError, UpstreamError
from providers.kind import ProviderKind, ProviderSettings
from providers.urls import origin

__all__ = ["KIND", "SketchExtras", "SketchSettings"]


class SketchSettings(ProviderSettings, frozen=True, tag_field="kind", tag="sketch"):
    #: Its one setting of its own: what the sketches are drawn on.
    paper: Literal["white", "grey"] = "white"


class SketchExtras(msgspec.Struct, kw_only=True):
    palette: Literal["mono", "sepia"] | None = None


class _Image(msgspec.Struct):
    href: str


class _Answer(msgspec.Struct):
    id: str
    images: list[_Image]


MODEL = "sketch-1"


class SketchAdapter:
    def __init__(self, settings: SketchSettings) -> None:
        self.base_url = settings.base_url.rstrip("/")
        self.paper = settings.paper

    def resolve(self, model: str) -> ModelInfo | None:
        if model != MODEL:
            return None
        return ModelInfo(MODEL, MODEL, 4, ("sync",), "WxH, each side 16..512")

    def models(self) -> list[ModelInfo]:
        info = self.resolve(MODEL)
        return [info] if info else []

    def generation_calls(self, model: str, spec: ImageSpec) -> list[UpstreamCall]:
        width, height = 64, 64
        if spec.size and spec.size != "auto":
            try:
                width, height = (int(side) for side in spec.size.lower().split("x"))
            except ValueError:
                raise InvalidRequest(f"Invalid size {spec.size!r}: use WxH", param="size") from None
            if not (16 <= width <= 512 and 16 <= height <= 512):
                raise InvalidRequest(f"Size {spec.size!r} is outside 16..512 per side", param="size")
        body = {
            "text": spec.prompt,
            "count": spec.n,
            "width": width,
            "height": height,
            "paper": self.paper,
            **spec.extras,
        }
        request = HttpRequest(
            "POST", f"{self.base_url}/v1/render", {"Content-Type": "application/json"}, msgspec.json.encode(body)
        )
        return [UpstreamCall(request, spec.n)]

    def parse_result(self, call: UpstreamCall, response: HttpResponse) -> ImageBatch | TaskRef:
        if response.status in (401, 403):
            raise UpstreamAuthError("sketch refused the provider key")
        if response.status != 200:
            raise UpstreamError(f"sketch answered {response.status}", retryable=False)
        try:
            answer = msgspec.json.decode(response.body, type=_Answer)
        except msgspec.DecodeError:
            raise UpstreamError("sketch answered with something unreadable", retryable=False) from None
        return ImageBatch(tuple(GeneratedImage(image.href) for image in answer.images), upstream_request_id=answer.id)

    def poll_request(self, task: TaskRef) -> HttpRequest:
        raise UpstreamError("sketch has no tasks", retryable=False)

    def parse_poll(self, call: UpstreamCall, task: TaskRef, response: HttpResponse) -> ImageBatch | None:
        raise UpstreamError("sketch has no tasks", retryable=False)

    def download_allowed(self, url: str) -> bool:
        return origin(url) == origin(self.base_url)


def _build(settings: SketchSettings, models: Mapping[str, Mapping[str, Any]]) -> ImageAdapter:
    return SketchAdapter(settings)


KIND = ProviderKind("sketch", SketchSettings, SketchExtras, _build, label="Sketch")
