"""The OpenAI-compatible adapter: one instance per configured upstream (base URL and key).

Image models are asked for images at ``/images/generations`` (``image_api:
images``) or at ``/chat/completions`` with a top-level ``size`` (``image_api:
chat``); chat models are proxied as they are, so one ``base_url`` serves an
app's text and image calls.
"""

from __future__ import annotations

from typing import Literal

from providers.base import HttpRequest, HttpResponse, ImageBatch, ImageSpec, ModelInfo, TaskRef, UpstreamCall
from providers.errors import ApiError, InvalidRequest, ModelNotFound, UpstreamError
from providers.openai_compat import request, response
from providers.openai_compat.errors import error_for
from providers.urls import origin, private_host

__all__ = ["OpenAICompatAdapter"]

#: One call asks for every image: OpenAI-compatible servers take n up to 10.
MAX_N = 10
#: OpenAI's own input limits (GPT image models): up to 16 images of up to 50 MB.
MAX_INPUT_IMAGES = 16
MAX_INPUT_BYTES = 50 * 1024 * 1024
_SIZE_RULE = "WxH as given, sent to the upstream as it is; auto: the upstream's default"


class OpenAICompatAdapter:
    def __init__(
        self,
        *,
        base_url: str,
        image_models: tuple[str, ...] = (),
        chat_models: tuple[str, ...] = (),
        image_api: Literal["images", "chat"] = "images",
        download_origins: tuple[str, ...] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.image_models = tuple(image_models)
        self.chat_models = tuple(m for m in chat_models if m not in image_models)
        self.image_api = image_api
        self._origin = origin(self.base_url)
        self._origins = {self._origin} if self._origin is not None else set()
        for text in download_origins:
            other = origin(text)
            if other is None:
                raise ValueError(f"download_origins: {text!r} is not an http(s) URL")
            self._origins.add(other)

    def __repr__(self) -> str:
        return f"OpenAICompatAdapter(base_url={self.base_url!r}, image_api={self.image_api!r})"

    def _info(self, model: str) -> ModelInfo:
        if model in self.image_models:
            return ModelInfo(
                model,
                model,
                MAX_N,
                ("sync",),
                _SIZE_RULE,
                images=(0, MAX_INPUT_IMAGES),
                image_max_bytes=MAX_INPUT_BYTES,
            )
        return ModelInfo(model, model, MAX_N, ("sync",), "", kind="chat")

    def resolve(self, model: str) -> ModelInfo | None:
        return self._info(model) if model in self.image_models or model in self.chat_models else None

    def models(self) -> list[ModelInfo]:
        return [self._info(model) for model in (*self.image_models, *self.chat_models)]

    def generation_calls(self, model: str, spec: ImageSpec) -> list[UpstreamCall]:
        if model in self.chat_models:
            raise InvalidRequest(
                f"'{model}' is a chat model: it makes no images", param="model", code="model_not_image_capable"
            )
        if model not in self.image_models:
            raise ModelNotFound(f"The model '{model}' is not offered by this provider", param="model")
        build = request.chat_call if self.image_api == "chat" else request.images_call
        return [build(self.base_url, model, spec)]

    def parse_result(self, call: UpstreamCall, response_: HttpResponse) -> ImageBatch | TaskRef:
        if response_.status >= 400:
            raise error_for(response_)
        return response.parse_images(response_)

    def poll_request(self, task: TaskRef) -> HttpRequest:
        # parse_result never returns a task: OpenAI-compatible image answers are synchronous.
        raise UpstreamError("OpenAI-compatible upstreams have no tasks to poll", retryable=False)

    def parse_poll(self, call: UpstreamCall, task: TaskRef, response_: HttpResponse) -> ImageBatch | None:
        raise UpstreamError("OpenAI-compatible upstreams have no tasks to poll", retryable=False)

    def download_allowed(self, url: str) -> bool:
        """Results from the upstream's own origin (a self-hosted server), or over https from a public host."""
        where = origin(url)
        if where is None:
            return False
        if where in self._origins:
            return True
        scheme, host, _ = where
        # The upstream's own host on another port is an internal service, not a file host.
        own_host = self._origin is not None and host == self._origin[1]
        return scheme == "https" and not own_host and not private_host(host)

    def chat_request(self, model: str, body: bytes, *, stream: bool, resource: str = "chat/completions") -> HttpRequest:
        return request.proxy_request(self.base_url, model, body, stream=stream, resource=resource)

    def chat_error(self, response_: HttpResponse) -> ApiError:
        return error_for(response_)

    def key_probe(self) -> HttpRequest:
        # Listing models is free on every OpenAI-compatible server seen, DashScope's included.
        return HttpRequest("GET", f"{self.base_url}/models")

    def key_probe_result(self, response_: HttpResponse) -> str:
        return response_.key_status

    def key_warning(self, key: str) -> str | None:
        return None
