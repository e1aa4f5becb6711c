"""The vocabulary of the emulator's model table: endpoints, size, count, image and rate rules.

Deliberately independent of the gateway's catalog so that tests check one against the other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal

from .config import Region

MB = 1024 * 1024


class Endpoint(enum.Enum):
    TEXT2IMAGE = "text2image/image-synthesis"
    IMAGE2IMAGE = "image2image/image-synthesis"
    IMAGE_GENERATION = "image-generation/generation"
    MULTIMODAL = "multimodal-generation/generation"

    @property
    def is_async(self) -> bool:
        return self is not Endpoint.MULTIMODAL

    @property
    def messages_style(self) -> bool:
        return self in (Endpoint.IMAGE_GENERATION, Endpoint.MULTIMODAL)


class Shape(enum.Enum):
    """Which sync response shape a model answers with."""

    WAN = "wan"
    QWEN = "qwen"


class Kind(enum.Enum):
    """Models whose parameters need checks beyond the common ones."""

    PLAIN = "plain"
    WANX_V1 = "wanx-v1"
    IMAGEEDIT = "imageedit"
    WAN26_IMAGE = "wan2.6-image"
    WAN27 = "wan2.7"
    QWEN3 = "qwen-image-3.0"
    ZIMAGE = "z-image"


@dataclass(frozen=True, slots=True)
class SizeRule:
    """Accepted ``parameters.size`` values and the output size they give.

    ``kind``: ``enum`` (exact list), ``box`` (area/ratio/side bounds, optional tokens) or ``input`` (output
    equals the input image, no ``size`` parameter). ``default`` is a ``W*H`` or a token; ``None`` means the
    output follows the last input image at ``follow_side``² pixels, as does ``follow_on_edit`` with images.
    """

    kind: Literal["enum", "box", "input"]
    options: tuple[tuple[int, int], ...] = ()
    amin: int | None = None
    amax: int | None = None
    rmin: float | None = None
    rmax: float | None = None
    smin: int | None = None
    smax: int | None = None
    tokens: tuple[tuple[str, int], ...] = ()
    t2i_tokens: tuple[tuple[str, int], ...] = ()
    t2i_amax: int | None = None
    round16: bool = False
    default: str | None = None
    follow_side: int = 1024
    follow_on_edit: bool = False
    accepts_size: bool = True


@dataclass(frozen=True, slots=True)
class NRange:
    min: int
    max: int
    default: int


@dataclass(frozen=True, slots=True)
class ImageRule:
    """Bounds on input images: count, bytes, sides (px), ratio, formats (Pillow names)."""

    min_count: int
    max_count: int
    max_bytes: int = 10 * MB
    smin: int | None = None
    smax: int | None = None
    rmin: float | None = None
    rmax: float | None = None
    formats: frozenset[str] = frozenset({"JPEG", "PNG", "BMP", "WEBP"})
    no_alpha: bool = False


@dataclass(frozen=True, slots=True)
class Rate:
    """Submit limit: ``limit`` calls per ``window`` s per (key, model); ``concurrency``: running tasks."""

    limit: int
    window: float = 1.0
    concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class ModelRule:
    name: str
    intl_name: str | None
    endpoints: frozenset[Endpoint]
    size: SizeRule
    n: NRange
    rate: Rate
    images: ImageRule | None = None
    prompt_max: int = 800
    shape: Shape = Shape.WAN
    prompt_extend: bool = False
    orig_prompt: bool = True
    sync_task_metric: bool = False
    token_usage: bool = False
    kind: Kind = Kind.PLAIN
    rate_intl: Rate | None = None
    aliases: tuple[str, ...] = field(default=())
    #: Regions besides cn and intl that offer the model, under its international name.
    regions: frozenset[str] = frozenset()
    #: Regions where only the async endpoints answer ("Global scope (Frankfurt) supports async calls only").
    async_only_in: frozenset[str] = frozenset()

    def rate_for(self, region: Region) -> Rate:
        return self.rate_intl if region != "cn" and self.rate_intl else self.rate
