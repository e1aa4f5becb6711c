"""The DashScope model catalog: data in ``catalog.yaml``, loaded into frozen Structs."""

from __future__ import annotations

from enum import StrEnum
from importlib import resources
from typing import Literal

import msgspec
import yaml

from providers.dashscope.sizes import SizeRule

__all__ = ["Catalog", "Endpoint", "ModelEntry", "RateLimit", "load_catalog"]

#: wanx2.1-imageedit's parameters beyond the common ones, and the functions that take each.
FUNCTION_PARAMS: dict[str, frozenset[str]] = {
    "strength": frozenset({"stylization_all", "description_edit"}),
    "top_scale": frozenset({"expand"}),
    "bottom_scale": frozenset({"expand"}),
    "left_scale": frozenset({"expand"}),
    "right_scale": frozenset({"expand"}),
    "upscale_factor": frozenset({"super_resolution"}),
    "is_sketch": frozenset({"doodle"}),
}
EXTRA_PARAMS = frozenset(
    {
        "negative_prompt",
        "seed",
        "prompt_extend",
        "watermark",
        "thinking_mode",
        "style",
        "function",
        "enable_sequential",
        "bbox_list",
        "color_palette",
        "prompt_extend_mode",
        "enable_thinking",
        *FUNCTION_PARAMS,
    }
)


class Endpoint(StrEnum):
    """DashScope's image endpoints; the value is the path under ``/api/v1/services/aigc/``."""

    MULTIMODAL = "multimodal-generation/generation"
    IMAGE_GENERATION = "image-generation/generation"
    TEXT2IMAGE = "text2image/image-synthesis"
    IMAGE2IMAGE = "image2image/image-synthesis"

    @property
    def uses_messages(self) -> bool:
        """Messages-style body (``input.messages``) rather than ``input.prompt``."""
        return self in (Endpoint.MULTIMODAL, Endpoint.IMAGE_GENERATION)


ENDPOINT_NAMES: dict[str, Endpoint] = {
    "multimodal": Endpoint.MULTIMODAL,
    "image-generation": Endpoint.IMAGE_GENERATION,
    "text2image": Endpoint.TEXT2IMAGE,
    "image2image": Endpoint.IMAGE2IMAGE,
}
EndpointName = Literal["multimodal", "image-generation", "text2image", "image2image"]


class RateLimit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    rps: float
    concurrency: int | None = None


class Price(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A model's price in one region, per image the upstream reports as made."""

    image: float
    currency: Literal["CNY", "USD"] = "CNY"
    #: Per image of the 2K tier, for models billed by output tier (qwen-image-3.0).
    image_2k: float | None = None
    #: Per input image, where input images are billed.
    input_image: float = 0.0
    #: Alibaba's own price list says so; otherwise a third party's figure (an estimate).
    documented: bool = False


class ModelEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    names: dict[str, str]
    n_max: int
    size: SizeRule
    sync: EndpointName | None = None
    # ``async`` is a keyword, hence the rename.
    async_: EndpointName | None = msgspec.field(default=None, name="async")
    prefer: Literal["sync", "async"] = "sync"
    prompt_max: int = 800
    #: DashScope documents 500 characters for every model that takes a negative prompt.
    negative_prompt_max: int = 500
    params: tuple[str, ...] = ()
    negative_prompt_in: Literal["input", "parameters"] = "parameters"
    edit_size: SizeRule | None = None
    images: tuple[int, int] = (0, 0)
    image_max_mb: float = 10
    #: Per input image: pixels per side, width/height, and whether an alpha channel is accepted.
    image_side: tuple[int, int] = (240, 8000)
    image_ratio: tuple[float, float] = (0.125, 8.0)
    image_alpha: bool = True
    #: The model can make images with an alpha channel (``background: transparent``).
    output_alpha: bool = False
    #: How the input image is sent: ``images`` (a list) or ``base_image`` (wanx2.1-imageedit's
    #: ``base_image_url``, with ``function`` and an optional ``mask_image_url``).
    input_style: Literal["images", "base_image"] = "images"
    #: The model takes a mask (white = edit, black = keep), so OpenAI masks can go to it.
    masks: bool = False
    #: Images one call may return as a set (``enable_sequential``); 0: the model makes no sets.
    sequential_max: int = 0
    #: Sent when a text-to-image request gives no size, where the model's own default would
    #: cost more (qwen-image-3.0 makes 2048^2, billed at its 2K tier).
    default_size: str | None = None
    #: With prompt_extend on, the answer's text item is the rewritten prompt (z-image-turbo).
    revised_prompt_text: bool = False
    #: Regions where only the async endpoint answers (wan2.6-image in Frankfurt).
    async_only_in: tuple[str, ...] = ()
    #: The model has DashScope's OpenAI-compatible image endpoint (on workspace hosts),
    #: which a provider with ``compat_images: true`` uses for it.
    compat_images: bool = False
    #: Prices by region (the region keys of ``names``).
    prices: dict[str, Price] = {}
    rate: RateLimit | None = None

    def __post_init__(self) -> None:
        if self.sync is None and self.async_ is None:
            raise ValueError("a model needs a sync or an async endpoint")
        if self.n_max < 1:
            raise ValueError("n_max must be at least 1")
        unknown = set(self.params) - EXTRA_PARAMS
        if unknown:
            raise ValueError(f"unknown params {sorted(unknown)}")
        if set(self.prices) - set(self.names):
            raise ValueError(f"prices for regions it is not offered in: {sorted(set(self.prices) - set(self.names))}")

    @property
    def is_async(self) -> bool:
        """Whether requests go through submit-and-poll."""
        return self.sync is None or (self.prefer == "async" and self.async_ is not None)

    @property
    def endpoint(self) -> Endpoint:
        name = self.async_ if self.is_async else self.sync
        assert name is not None  # guaranteed by __post_init__ and is_async
        return ENDPOINT_NAMES[name]

    def size_rule(self, with_images: bool) -> SizeRule:
        return self.edit_size if with_images and self.edit_size else self.size

    def in_region(self, region: str) -> ModelEntry:
        """The entry as that region serves it."""
        if region in self.async_only_in and self.async_ is not None:
            return msgspec.structs.replace(self, sync=None, prefer="async")
        return self

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(mode for mode, ep in (("sync", self.sync), ("async", self.async_)) if ep)


class Catalog(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    models: dict[str, ModelEntry]

    def find(self, name: str) -> tuple[str, ModelEntry] | None:
        """The entry for a client-facing id or any of its regional upstream names."""
        entry = self.models.get(name)
        if entry is not None:
            return name, entry
        for model_id, candidate in self.models.items():
            if name in candidate.names.values():
                return model_id, candidate
        return None

    def merged(self, overrides: dict[str, ModelEntry]) -> Catalog:
        return Catalog(models={**self.models, **overrides})


def load_catalog(text: str | None = None) -> Catalog:
    """The built-in catalog, or one decoded from ``text``. Raises msgspec.ValidationError."""
    if text is None:
        text = resources.files("providers.dashscope").joinpath("catalog.yaml").read_text()
    return msgspec.convert(yaml.safe_load(text), Catalog)
