"""Image generation: validate, route, run the upstream calls, shape the OpenAI answer."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass

import httpx
from PIL import Image

from gateway.engine.downloads import b64, fetch_all_b64
from gateway.engine.executor import Engine
from gateway.routing import Route, Router
from gateway.schemas import ImageData, ImageGenerationRequest, ImagesResponse, ImagesUsage
from gateway.settings import DownloadSettings
from providers.base import ImageBatch, ImageSpec
from providers.errors import InvalidRequest, UpstreamTimeout

__all__ = ["MAX_N", "ImageService", "Served"]

#: Like OpenAI: at most 10 images per request, whatever the model's own limit.
MAX_N = 10


@dataclass(frozen=True, slots=True)
class Served:
    response: ImagesResponse
    route: Route


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            return image.size
    except Exception:
        return None


def _usage(batches: list[ImageBatch]) -> ImagesUsage | None:
    usages = [b.usage for b in batches if b.usage]
    if not usages:
        return None
    return ImagesUsage(
        input_tokens=sum(u.input_tokens for u in usages),
        output_tokens=sum(u.output_tokens for u in usages),
        total_tokens=sum(u.total_tokens for u in usages),
    )


class ImageService:
    def __init__(
        self,
        router: Router,
        engine: Engine,
        client: httpx.AsyncClient,
        *,
        deadline_seconds: float,
        downloads: DownloadSettings,
    ) -> None:
        self.router = router
        self.engine = engine
        self.client = client
        self.deadline_seconds = deadline_seconds
        self.downloads = downloads

    def _spec(self, req: ImageGenerationRequest) -> ImageSpec:
        n = 1 if req.n is None else req.n
        if not 1 <= n <= MAX_N:
            raise InvalidRequest(f"'n' must be between 1 and {MAX_N}, got {n}", param="n")
        if not req.prompt.strip():
            raise InvalidRequest("'prompt' must not be empty", param="prompt")
        return ImageSpec(
            prompt=req.prompt, n=n, size=req.size, quality=req.quality, style=req.style, extras=req.extras()
        )

    async def generate(self, req: ImageGenerationRequest) -> Served:
        return await self.run(req.model, self._spec(req), req.response_format or "url")

    async def run(self, model: str | None, spec: ImageSpec, response_format: str) -> Served:
        """Images for ``spec`` from the provider serving ``model``, as an OpenAI images answer.

        Every image route (generations, edits, chat) ends here.
        """
        route = self.router.resolve(model)
        adapter = route.target.adapter
        calls = adapter.generation_calls(route.model.id, spec)
        deadline = time.monotonic() + self.deadline_seconds
        try:
            async with asyncio.timeout(self.deadline_seconds):
                batches = await self.engine.run_calls(route.target, calls, deadline)
                images = [image for batch in batches for image in batch.images]
                blobs = None
                if response_format == "b64_json":
                    urls = [image.url for image in images]
                    blobs = await fetch_all_b64(self.client, urls, adapter.download_allowed, self.downloads)
        except TimeoutError:
            raise UpstreamTimeout(
                f"The upstream did not finish within the gateway's {self.deadline_seconds:g}s deadline"
            ) from None
        size = next((b.size for b in batches if b.size), None)
        if blobs is None:
            data = [ImageData(url=image.url, revised_prompt=image.revised_prompt) for image in images]
        else:
            data = [
                ImageData(b64_json=b64(blob), revised_prompt=image.revised_prompt)
                for image, blob in zip(images, blobs, strict=True)
            ]
            size = size or _image_size(blobs[0])
        response = ImagesResponse(
            created=int(time.time()),
            data=data,
            size=f"{size[0]}x{size[1]}" if size else None,
            usage=_usage(batches),
        )
        return Served(response, route)
