"""The DashScope native adapter: one instance per region (base URL)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from providers.base import (
    Billing,
    Cost,
    HttpRequest,
    HttpResponse,
    ImageBatch,
    ImageSpec,
    ModelInfo,
    TaskRef,
    UpstreamCall,
)
from providers.dashscope import request, response
from providers.dashscope.catalog import Catalog, ModelEntry, load_catalog
from providers.errors import ModelNotFound
from providers.urls import origin

__all__ = ["DashScopeAdapter"]

#: DashScope's result buckets: dashscope-result-wlcb.oss-cn-wulanchabu.aliyuncs.com,
#: dashscope-7c2c.oss-cn-shanghai.aliyuncs.com, dashscope-result-intl.oss-cn-singapore...
_OSS_RESULT_HOST = re.compile(r"^dashscope[a-z0-9-]*\.oss-[a-z0-9-]+\.aliyuncs\.com$")


def _input_fields(entry: ModelEntry) -> dict[str, Any]:
    """ModelInfo's input-image fields, from the catalog entry."""
    edit = entry.size_rule(with_images=True)
    # size auto with input images: tokens follow the last input's ratio upstream; other
    # box rules get that ratio from the gateway; fixed_by_input models take no size.
    auto = "omit" if edit.fixed_by_input else "token" if edit.tokens else "ratio"
    return {
        "images": entry.images,
        "image_max_bytes": int(entry.image_max_mb * 1024 * 1024),
        "image_side": entry.image_side,
        "image_ratio": entry.image_ratio,
        "image_alpha": entry.image_alpha,
        "auto_size": auto if entry.images[1] else "omit",
        "size_tokens": edit.tokens,
        "edit_size_rule": edit.describe() if entry.edit_size else "",
    }


class DashScopeAdapter:
    def __init__(
        self, *, region: str, base_url: str, catalog: Catalog | None = None, compat_images: bool = False
    ) -> None:
        self.region = region
        self.compat_images = compat_images
        self.base_url = base_url.rstrip("/")
        self.catalog = catalog or load_catalog()
        self._own_origin = origin(self.base_url)
        # The catalog never changes: what a name resolves to is worked out once. Only names the
        # catalog knows are kept (a bounded set), never whatever else clients send.
        self._found: dict[str, tuple[str, str, ModelEntry]] = {}
        self._infos: dict[str, ModelInfo] = {}

    def __repr__(self) -> str:
        return f"DashScopeAdapter(region={self.region!r}, base_url={self.base_url!r})"

    def _lookup(self, model: str) -> tuple[str, str, ModelEntry] | None:
        known = self._found.get(model)
        if known is not None:
            return known
        found = self.catalog.find(model)
        if found is None:
            return None
        model_id, entry = found
        upstream = entry.names.get(self.region)
        if not upstream:
            return None
        known = self._found[model] = (model_id, upstream, entry.in_region(self.region))
        return known

    def _info(self, model_id: str, upstream: str, entry: ModelEntry) -> ModelInfo:
        rate = entry.rate
        return ModelInfo(
            model_id,
            upstream,
            entry.n_max,
            entry.modes,
            entry.size.describe(),
            rps=rate.rps if rate else None,
            concurrency=rate.concurrency if rate else None,
            output_alpha=entry.output_alpha,
            masks=entry.masks,
            options=tuple(p for p in entry.params if p != "style"),
            generation_tokens=entry.size.tokens,
            **_input_fields(entry),
        )

    def resolve(self, model: str) -> ModelInfo | None:
        info = self._infos.get(model)
        if info is None:
            found = self._lookup(model)
            if found is None:
                return None
            info = self._infos[model] = self._info(*found)
        return info

    def models(self) -> list[ModelInfo]:
        return [
            self._info(model_id, entry.names[self.region], entry.in_region(self.region))
            for model_id, entry in self.catalog.models.items()
            if self.region in entry.names
        ]

    def generation_calls(self, model: str, spec: ImageSpec) -> list[UpstreamCall]:
        found = self._lookup(model)
        if found is None:
            raise ModelNotFound(f"The model '{model}' is not offered in region {self.region}", param="model")
        model_id, upstream, entry = found
        if self.compat_images and entry.compat_images:
            return request.build_compat_calls(self.base_url, model_id, upstream, entry, spec)
        return request.build_calls(self.base_url, model_id, upstream, entry, spec)

    def parse_result(self, call: UpstreamCall, response_: HttpResponse) -> ImageBatch | TaskRef:
        if request.is_compat(call):
            return response.parse_compat(response_)
        return response.parse_result(response_, text_is_prompt=call.revised_prompt)

    def poll_request(self, task: TaskRef) -> HttpRequest:
        return request.build_poll(self.base_url, task)

    def parse_poll(self, call: UpstreamCall, task: TaskRef, response_: HttpResponse) -> ImageBatch | None:
        return response.parse_poll(response_)

    def download_allowed(self, url: str) -> bool:
        where = origin(url)
        if where is None:
            return False
        if where == self._own_origin:
            return True
        scheme, host, port = where
        return scheme == "https" and port == 443 and bool(_OSS_RESULT_HOST.match(host))

    def estimate(self, model: str, batch: ImageBatch) -> Cost | None:
        """From the region's price and what the answer says was billed (tier, input images)."""
        found = self._lookup(model)
        price = found[2].prices.get(self.region) if found else None
        if price is None:
            return None
        billed = batch.billing or Billing(len(batch.images))
        per_image = price.image_2k if billed.tier == "2k" and price.image_2k is not None else price.image
        amount = billed.images * per_image + billed.input_images * price.input_image
        return Cost(round(amount, 6), price.currency, price.documented)

    def key_probe(self) -> HttpRequest:
        # Reading a task that does not exist costs nothing; a valid key
        # gets 200 UNKNOWN, an invalid (or other-region) key 401.
        return HttpRequest("GET", f"{self.base_url}/api/v1/tasks/{uuid.uuid4()}")

    def key_probe_result(self, response_: HttpResponse) -> str:
        return response_.key_status

    def key_warning(self, key: str) -> str | None:
        if key.startswith("sk-sp-"):
            return "an sk-sp- Coding Plan key: DashScope serves no image models to it"
        return None

    def cancel_request(self, task: TaskRef) -> HttpRequest:
        return HttpRequest("POST", f"{self.base_url}/api/v1/tasks/{task.task_id}/cancel")

    def cancelled(self, response_: HttpResponse) -> bool:
        # A task past PENDING answers 400 UnsupportedOperation.
        return response_.status == 200
