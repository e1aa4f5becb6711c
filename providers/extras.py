"""The request extras of Alibaba's Wan and Qwen-Image models, wherever they are served."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

__all__ = ["IMAGEEDIT_FUNCTIONS", "PaletteColor", "WanExtras"]

#: wanx2.1-imageedit's ``function``s (https://www.alibabacloud.com/help/en/model-studio/wanx-image-edit).
ImageEditFunction = Literal[
    "stylization_all",
    "stylization_local",
    "description_edit",
    "description_edit_with_mask",
    "remove_watermark",
    "expand",
    "super_resolution",
    "colorization",
    "doodle",
    "control_cartoon_feature",
]
IMAGEEDIT_FUNCTIONS: tuple[str, ...] = ImageEditFunction.__args__  # type: ignore[attr-defined]
Unit = Annotated[float, msgspec.Meta(ge=0, le=1)]
Scale = Annotated[float, msgspec.Meta(ge=1, le=2)]


class PaletteColor(msgspec.Struct, frozen=True):
    """One colour of wan2.7's ``color_palette``: ``#RRGGBB`` and its share, ``"23.51%"`` (a number is taken too)."""

    hex: str
    ratio: str | float


class WanExtras(msgspec.Struct, kw_only=True):
    """Parameters OpenAI SDK clients send through ``extra_body`` (top level) for these models."""

    negative_prompt: str | None = None
    seed: int | None = None
    prompt_extend: bool | None = None
    watermark: bool | None = None
    thinking_mode: bool | None = None
    # qwen-image-3.0: how the prompt is extended, and whether the model thinks first.
    prompt_extend_mode: Literal["direct", "agent"] | None = None
    enable_thinking: bool | None = None
    # wan2.7: an image set (n is then a maximum), boxes to edit per input image, a palette.
    enable_sequential: bool | None = None
    bbox_list: list[list[list[int]]] | None = None
    color_palette: list[PaletteColor] | None = None
    # wanx2.1-imageedit: the function, and the parameters some functions take.
    function: ImageEditFunction | None = None
    strength: Unit | None = None
    top_scale: Scale | None = None
    bottom_scale: Scale | None = None
    left_scale: Scale | None = None
    right_scale: Scale | None = None
    upscale_factor: Annotated[int, msgspec.Meta(ge=1, le=4)] | None = None
    is_sketch: bool | None = None
