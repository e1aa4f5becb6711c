"""Step 8 of the validation order: parameter values, input image contents and the output size."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import invalid
from .images import InputImage, check_image
from .models import WAN26_INTERLEAVE_SIZE, WAN27_SEQUENTIAL_N
from .rules import ImageRule, Kind, ModelRule
from .sizes import output_size
from .wire import Input, PaletteEntry, Parameters

if TYPE_CHECKING:
    from .validation import Call

SEED_MAX = 2147483647
WANX_V1_STYLES = frozenset(
    {
        "<auto>",
        "<photography>",
        "<portrait>",
        "<3d cartoon>",
        "<anime>",
        "<oil painting>",
        "<watercolor>",
        "<sketch>",
        "<chinese painting>",
        "<flat illustration>",
    }
)
IMAGEEDIT_FUNCTIONS = frozenset(
    {
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
    }
)
THINKING_MODES = frozenset({"fast", "balanced", "quality"})
_HEX = re.compile(r"#[0-9A-Fa-f]{6}")
_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)%")
MAX_INTERLEAVE_IMAGES = 5


@dataclass(frozen=True, slots=True)
class Spec:
    n: int
    count: int
    width: int
    height: int
    images: tuple[InputImage, ...]


def check(
    rule: ModelRule,
    model: str,
    inp: Input,
    par: Parameters,
    refs: Sequence[str],
    call: Call,
    *,
    image_rule: ImageRule | None,
    interleave: bool,
    wide_2k: bool,
) -> Spec:
    images = tuple(
        check_image(ref, image_rule or ImageRule(0, 0), oss_resolve=call.oss_resolve, label=f"Input image {i + 1}")
        for i, ref in enumerate(refs)
    )
    sequential = rule.kind is Kind.WAN27 and bool(par.enable_sequential)
    n = _n(rule, model, par.n, sequential=sequential, interleave=interleave)
    if par.seed is not None and not 0 <= par.seed <= SEED_MAX:
        raise invalid(f"The seed must be within [0, {SEED_MAX}], got {par.seed}.")
    count, scale = n, 1
    if rule.kind is Kind.WANX_V1:
        _wanx_v1(par)
    elif rule.kind is Kind.IMAGEEDIT:
        scale = _imageedit(inp, par, call, images[0] if images else None)
    elif rule.kind is Kind.WAN27:
        _wan27(par, len(images), sequential=sequential)
    elif rule.kind is Kind.QWEN3:
        _qwen3(par, len(images))
    elif interleave:
        count = _interleave(par, call)
    width, height = output_size(
        WAN26_INTERLEAVE_SIZE if interleave else rule.size,
        par.size,
        images,
        model=model,
        text_only=not images and not sequential,
        wide_2k=wide_2k and rule.kind is Kind.WAN27,
        scale=scale,
    )
    return Spec(n=n, count=count, width=width, height=height, images=images)


def _n(rule: ModelRule, model: str, n: int | None, *, sequential: bool, interleave: bool) -> int:
    if interleave or rule.kind is Kind.ZIMAGE:
        if n is not None and n != 1:
            raise invalid("num_images_per_prompt must be 1")
        return 1
    allowed = WAN27_SEQUENTIAL_N if sequential else rule.n
    if n is None:
        return allowed.default
    if allowed.min == allowed.max and n != allowed.min:
        raise invalid(f"The n of {model} only supports {allowed.min}, got {n}.")
    if not allowed.min <= n <= allowed.max:
        raise invalid(f"The n of {model} must be within [{allowed.min}, {allowed.max}], got {n}.")
    return n


def _qwen3(par: Parameters, image_count: int) -> None:
    mode = par.prompt_extend_mode
    if mode is not None and mode not in ("direct", "agent"):
        raise invalid("The prompt_extend_mode must be direct or agent.")
    if mode == "agent" and image_count:
        raise invalid("The prompt_extend_mode agent is only available for text-to-image.")


def _wanx_v1(par: Parameters) -> None:
    if par.style is not None and par.style not in WANX_V1_STYLES:
        raise invalid(f"The style is invalid, valid values: {', '.join(sorted(WANX_V1_STYLES))}.")
    if par.ref_strength is not None and not 0.0 <= par.ref_strength <= 1.0:
        raise invalid("The ref_strength must be within [0.0, 1.0].")
    if par.ref_mode is not None and par.ref_mode not in ("repaint", "refonly"):
        raise invalid("The ref_mode must be repaint or refonly.")


def _imageedit(inp: Input, par: Parameters, call: Call, base: InputImage | None) -> int:
    """Checks wanx2.1-imageedit's function; returns the output scale (super_resolution).

    The 2026 page takes the mask as a URL or base64 (the 2025 one said URL only): both are
    accepted. A mask read here must be the base image's size, as the page requires.
    """
    if inp.function is None:
        raise invalid("Required parameter input.function is missing.")
    if inp.function not in IMAGEEDIT_FUNCTIONS:
        raise invalid(f"The function is invalid, valid values: {', '.join(sorted(IMAGEEDIT_FUNCTIONS))}.")
    if inp.function == "description_edit_with_mask" and not inp.mask_image_url:
        raise invalid("Required parameter input.mask_image_url is missing for description_edit_with_mask.")
    if inp.mask_image_url is not None:
        mask = check_image(
            inp.mask_image_url, ImageRule(1, 1, smin=512, smax=4096), oss_resolve=call.oss_resolve, label="Mask image"
        )
        sized = mask.width is not None and base is not None and base.width is not None
        if sized and (mask.width, mask.height) != (base.width, base.height):  # type: ignore[union-attr]
            raise invalid("The mask image must be the same size as the base image.")
    if inp.function != "super_resolution":
        return 1
    factor = 1 if par.upscale_factor is None else par.upscale_factor
    if not 1 <= factor <= 4:
        raise invalid("The upscale_factor must be within [1, 4].")
    return factor


def _wan27(par: Parameters, image_count: int, *, sequential: bool) -> None:
    mode = par.thinking_mode
    if isinstance(mode, str) and mode not in THINKING_MODES:
        raise invalid("The thinking_mode must be a boolean.")
    if par.color_palette is not None:
        if sequential:
            raise invalid("The color_palette is only available when enable_sequential is false.")
        _palette(par.color_palette)
    if par.bbox_list is not None:
        _bbox_list(par.bbox_list, image_count)


def _palette(palette: list[PaletteEntry]) -> None:
    if not 3 <= len(palette) <= 10:
        raise invalid(f"The color_palette must hold 3 to 10 colors, got {len(palette)}.")
    total = 0.0
    for entry in palette:
        if not _HEX.fullmatch(entry.hex):
            raise invalid(f"The color_palette hex {entry.hex!r} is not a #RRGGBB color.")
        if isinstance(entry.ratio, str):
            match = _PERCENT.fullmatch(entry.ratio.strip())
            if match is None:
                raise invalid(f"The color_palette ratio {entry.ratio!r} is not a percentage such as '12.50%'.")
            total += float(match.group(1))
        else:
            total += entry.ratio * 100 if entry.ratio <= 1 else entry.ratio
    if abs(total - 100.0) > 0.1:
        raise invalid(f"The color_palette ratios must sum to 100%, got {total:.2f}%.")


def _bbox_list(bbox_list: list[list[list[float]]], image_count: int) -> None:
    if len(bbox_list) != image_count:
        raise invalid(f"The bbox_list must hold one entry per input image ({image_count}), got {len(bbox_list)}.")
    for boxes in bbox_list:
        if len(boxes) > 2:
            raise invalid("Each bbox_list entry holds at most 2 boxes.")
        for box in boxes:
            if len(box) != 4 or box[0] >= box[2] or box[1] >= box[3] or min(box) < 0:
                raise invalid(f"The box {box} is not [x1, y1, x2, y2] with x1 < x2 and y1 < y2.")


def _interleave(par: Parameters, call: Call) -> int:
    if not call.endpoint.is_async and not call.sse:
        raise invalid("Interleave mode needs streaming output: send the header X-DashScope-SSE: enable.")
    count = MAX_INTERLEAVE_IMAGES if par.max_images is None else par.max_images
    if not 1 <= count <= MAX_INTERLEAVE_IMAGES:
        raise invalid(f"The max_images must be within [1, {MAX_INTERLEAVE_IMAGES}], got {count}.")
    return count
