"""OpenAI ``size`` -> a size the DashScope model accepts.

Pure functions over a model's :class:`SizeRule`. A size the model accepts passes
unchanged; otherwise the result keeps the requested aspect ratio as closely as
the model's limits allow: the nearest preset for fixed-size models, a ``W*H``
inside the pixel, side and ratio bounds for the others. ``auto`` or no size
means "let the model choose" and nothing is sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec

from providers.errors import InvalidRequest
from providers.sizes import DIMENSIONS, TOKEN_SIDES

__all__ = ["SizeRule", "accepts", "map_size", "parse_size", "snap"]

#: Every computed side is a multiple of this: wan2.6-image asks for it and
#: qwen-image-edit rounds to it server-side anyway.
STEP = 16
#: Sides beyond this are not image sizes any model could be asked for.
MAX_SIDE = 65536
_RATIO_EPS = 1e-9


class SizeRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    presets: tuple[str, ...] = ()
    area: tuple[int, int] | None = None
    ratio: tuple[float, float] | None = None
    side: tuple[int, int] | None = None
    tokens: tuple[str, ...] = ()
    #: The model takes no size; the output follows the input image.
    fixed_by_input: bool = False

    @property
    def is_enum(self) -> bool:
        return bool(self.presets) and self.area is None and self.ratio is None and self.side is None

    def describe(self) -> str:
        if self.fixed_by_input:
            return "output follows the input image; size is not sent"
        parts = []
        if self.is_enum:
            parts.append("one of " + ", ".join(self.presets))
        if self.area:
            parts.append(f"W*H between {self.area[0]} and {self.area[1]} pixels")
        if self.side:
            parts.append(f"each side {self.side[0]}..{self.side[1]} px")
        if self.ratio:
            parts.append(f"W/H between {self.ratio[0]:g} and {self.ratio[1]:g}")
        if self.presets and not self.is_enum:
            parts.append("or a preset " + ", ".join(self.presets))
        if self.tokens:
            parts.append("or " + "/".join(self.tokens))
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Dims:
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Token:
    name: str


Parsed = Dims | Token | None


def _bad_size(raw: str, why: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid size {raw!r}: {why}. Use 'WIDTHxHEIGHT' (e.g. '1024x1024'), 'W*H', or 'auto'.",
        param="size",
        code="invalid_size",
    )


def parse_size(raw: str | None) -> Parsed:
    """``None`` for auto; a token (1K/2K/4K) or dimensions otherwise. Raises InvalidRequest."""
    if raw is None:
        return None
    text = raw.strip()
    if text == "" or text.lower() == "auto":
        return None
    if text.upper() in TOKEN_SIDES:
        return Token(text.upper())
    match = DIMENSIONS.match(text)
    if match is None:
        raise _bad_size(raw, "not a size")
    width, height = int(match.group(1)), int(match.group(2))
    if width <= 0 or height <= 0:
        raise _bad_size(raw, "width and height must be positive")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise _bad_size(raw, f"sides above {MAX_SIDE} px")
    return Dims(width, height)


def _ratio_bounds(rule: SizeRule) -> tuple[float, float]:
    low, high = rule.ratio or (0.0, math.inf)
    if rule.side:
        low, high = max(low, rule.side[0] / rule.side[1]), min(high, rule.side[1] / rule.side[0])
    return low, high


def _area_bounds(rule: SizeRule) -> tuple[float, float]:
    low, high = rule.area or (1, math.inf)
    if rule.side:
        low, high = max(low, rule.side[0] ** 2), min(high, rule.side[1] ** 2)
    return low, high


def accepts(rule: SizeRule, width: int, height: int) -> bool:
    """Whether the model takes ``width*height`` as it is."""
    if f"{width}*{height}" in rule.presets:
        return True
    if rule.is_enum or rule.fixed_by_input:
        return False
    if rule.side and not (rule.side[0] <= width <= rule.side[1] and rule.side[0] <= height <= rule.side[1]):
        return False
    if rule.area and not (rule.area[0] <= width * height <= rule.area[1]):
        return False
    if rule.ratio:
        ratio = width / height
        return rule.ratio[0] - _RATIO_EPS <= ratio <= rule.ratio[1] + _RATIO_EPS
    return True


def _nearest_preset(rule: SizeRule, width: int, height: int) -> tuple[int, int]:
    target = math.log(width / height)

    def distance(preset: str) -> tuple[float, int]:
        w, h = (int(v) for v in preset.split("*"))
        return abs(math.log(w / h) - target), -w * h  # ties go to the larger image

    w, h = (int(v) for v in min(rule.presets, key=distance).split("*"))
    return w, h


def _ideal(rule: SizeRule, width: int, height: int) -> tuple[float, float, float, float]:
    """Real-valued width and height with the clamped ratio and area, inside the side bounds."""
    rmin, rmax = _ratio_bounds(rule)
    amin, amax = _area_bounds(rule)
    ratio = min(max(width / height, rmin), rmax)
    area = min(max(width * height, amin), amax)
    w, h = math.sqrt(area * ratio), math.sqrt(area / ratio)
    if rule.side:
        if max(w, h) > rule.side[1]:
            scale = rule.side[1] / max(w, h)
            w, h = w * scale, h * scale
        if min(w, h) < rule.side[0]:
            scale = rule.side[0] / min(w, h)
            w, h = w * scale, h * scale
    return w, h, ratio, w * h


def _snap_box(rule: SizeRule, width: int, height: int) -> tuple[int, int]:
    w, h, ratio, area = _ideal(rule, width, height)

    def score(cw: int, ch: int) -> float:
        # Aspect ratio first; pixel count second, so the image stays the size asked for.
        return abs(math.log(cw / ch / ratio)) + 0.25 * abs(math.log(cw * ch / area))

    for radius in (3, 8, 32, 128):
        cw0, ch0 = round(w / STEP), round(h / STEP)
        candidates = [
            (cw * STEP, ch * STEP)
            for cw in range(max(1, cw0 - radius), cw0 + radius + 1)
            for ch in range(max(1, ch0 - radius), ch0 + radius + 1)
            if accepts(rule, cw * STEP, ch * STEP)
        ]
        if candidates:
            return min(candidates, key=lambda c: score(*c))
    raise ValueError(f"size rule {rule} admits no size near {width}x{height}")  # a catalog bug


def snap(rule: SizeRule, width: int, height: int) -> tuple[int, int]:
    """The accepted size closest in aspect ratio (then in pixels) to ``width x height``."""
    if accepts(rule, width, height):
        return width, height
    if rule.is_enum:
        return _nearest_preset(rule, width, height)
    return _snap_box(rule, width, height)


def map_size(raw: str | None, rule: SizeRule) -> str | None:
    """The ``parameters.size`` to send, or None to send no size. Raises InvalidRequest."""
    parsed = parse_size(raw)
    if parsed is None or rule.fixed_by_input:
        return None
    if isinstance(parsed, Token):
        if parsed.name in rule.tokens:
            return parsed.name
        side = TOKEN_SIDES[parsed.name]
        parsed = Dims(side, side)
    width, height = snap(rule, parsed.width, parsed.height)
    return f"{width}*{height}"
