"""``parameters.size`` checking and the output size it gives."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from .errors import invalid
from .images import InputImage
from .rules import SizeRule

_WH = re.compile(r"([1-9][0-9]{0,5})\*([1-9][0-9]{0,5})")
WIDE_2K = (2985, 1405)  # what wan2.7 really returned for a 2K text-to-image request


def round16(value: float) -> int:
    # Round half to even: it is what turns the documented 1033*1032 into 1040*1024.
    return max(16, round(value / 16) * 16)


def follow_input(images: Sequence[InputImage], side: int) -> tuple[int, int]:
    """The last input image's ratio at ``side``² pixels; square when there is none or it is an unread URL."""
    last = images[-1] if images else None
    ratio = last.width / last.height if last and last.width and last.height else 1.0
    area = side * side
    return round16(math.sqrt(area * ratio)), round16(math.sqrt(area / ratio))


def output_size(
    rule: SizeRule,
    size: str | None,
    images: Sequence[InputImage],
    *,
    model: str,
    text_only: bool,
    wide_2k: bool = False,
    scale: int = 1,
) -> tuple[int, int]:
    """``text_only`` is pure text-to-image (no input image, no image set), where wan2.7-pro allows 4K."""
    if size is not None and not rule.accepts_size:
        raise invalid(f"The size parameter is not supported by {model}")
    if rule.kind == "input":
        last = images[-1] if images else None
        width, height = (last.width, last.height) if last and last.width and last.height else (1024, 1024)
        return width * scale, height * scale
    if size is None:
        if rule.default is None or (images and rule.follow_on_edit):
            return follow_input(images, rule.follow_side)
        size = rule.default
    tokens = dict(rule.tokens + rule.t2i_tokens) if text_only else dict(rule.tokens)
    if size in tokens:
        if wide_2k and size == "2K" and text_only:
            return WIDE_2K
        return follow_input(images, tokens[size])
    if size in dict(rule.t2i_tokens):
        raise invalid(f"The size {size} is only supported for text-to-image without input images by {model}")
    match = _WH.fullmatch(size)
    if match is None:
        hint = f" or one of {', '.join(tokens)}" if tokens else ""
        raise invalid(f"The size is not match the required format W*H (e.g. 1024*1024){hint}, got '{size}'")
    width, height = int(match.group(1)), int(match.group(2))
    if rule.kind == "enum":
        if (width, height) not in rule.options:
            allowed = ", ".join(f"{w}*{h}" for w, h in rule.options)
            raise invalid(f"The size is not match the allowed sizes of {model}: {allowed}")
        return width, height
    _check_box(rule, width, height, model, text_only)
    if rule.round16:
        return round16(width), round16(height)
    return width, height


def _check_box(rule: SizeRule, width: int, height: int, model: str, text_only: bool) -> None:
    area, ratio = width * height, width / height
    amax = rule.t2i_amax if text_only and rule.t2i_amax else rule.amax
    if rule.smin is not None and min(width, height) < rule.smin:
        raise invalid(f"The size {width}*{height} is invalid for {model}: each side must be >= {rule.smin}")
    if rule.smax is not None and max(width, height) > rule.smax:
        raise invalid(f"The size {width}*{height} is invalid for {model}: each side must be <= {rule.smax}")
    if rule.amin is not None and area < rule.amin:
        raise invalid(f"The size {width}*{height} is invalid for {model}: total pixels must be >= {rule.amin}")
    if amax is not None and area > amax:
        raise invalid(f"The size {width}*{height} is invalid for {model}: total pixels must be <= {amax}")
    if (rule.rmin is not None and ratio < rule.rmin - 1e-9) or (rule.rmax is not None and ratio > rule.rmax + 1e-9):
        raise invalid(
            f"The size {width}*{height} is invalid for {model}: aspect ratio must be within "
            f"[{rule.rmin:g}, {rule.rmax:g}]"
        )
