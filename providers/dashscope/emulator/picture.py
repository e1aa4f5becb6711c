"""The picture behind a result URL: a seeded pixel-art pattern with a caption saying which request made it.

The pattern is drawn on a grid of at most 32 cells along the long side, in four colours derived from the
image's key colour (a hash of model, prompt, seed and index, see ``plan.py``) and seeded by it, scaled up by whole
cells. The caption band at the bottom carries the model id, ``W x H`` (with the index and seed) and the start
of the prompt in Pillow's built-in bitmap font (6 by 11 pixels, ASCII), scaled by a whole factor with the
image: whole-factor scaling keeps the text crisp and makes every font pixel row repeat, so the picture is a
few dozen distinct rows and ``encode_png`` stays cheap at 4096 by 4096. A line that does not fit is cut, and
lines are dropped (prompt first) when the image is too small; the tiniest images carry no caption.
"""

from __future__ import annotations

import colorsys
import hashlib
import random
from collections.abc import Iterator

from cachetools import LRUCache
from PIL import Image, ImageDraw, ImageFont

from .png import encode_png
from .results import ImageSpec

RGB = tuple[int, int, int]

#: Bytes of rendered PNGs kept: a 4096*4096 picture is about 70 KB, a 1024*1024 one about 13 KB.
CACHE_BYTES = 64 * 1024 * 1024
_CACHE: LRUCache[tuple[int, ImageSpec], bytes] = LRUCache(maxsize=CACHE_BYTES, getsizeof=len)

_GRID = 32  # cells along the long side
_FONT = ImageFont.load_default_imagefont()
_GLYPH_W, _GLYPH_H = 6, 11  # the bitmap font's advance and line height
_LINE_GAP = 3  # font pixels between lines
_TEXT = (255, 255, 255)


def render(index: int, spec: ImageSpec) -> bytes:
    """The PNG of image ``index`` of ``spec``, exactly ``spec.width`` by ``spec.height``; same inputs, same bytes."""
    key = (index, spec)
    png = _CACHE.get(key)
    if png is None:
        png = encode_png(spec.width, list(_bands(index, spec)))
        if len(png) <= CACHE_BYTES // 8:
            _CACHE[key] = png
    return png


def _palette(colour: int, rng: random.Random) -> list[RGB]:
    """The key colour's hue and three companions at seeded turns of the colour wheel, mid-light and vivid."""
    r, g, b = colour >> 16, colour >> 8 & 0xFF, colour & 0xFF
    hue, _, sat = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)
    colours = []
    for turn in (0.0, rng.uniform(0.15, 0.35), rng.uniform(0.4, 0.6), rng.uniform(0.65, 0.85)):
        shade = colorsys.hls_to_rgb((hue + turn) % 1.0, rng.uniform(0.4, 0.7), max(0.55, sat))
        colours.append((round(shade[0] * 255), round(shade[1] * 255), round(shade[2] * 255)))
    return colours


def _pattern(spec: ImageSpec, index: int, cols: int, rows: int) -> Image.Image:
    """The seeded pattern at one pixel per cell: a gradient, one of three motifs, a few blobs."""
    # The key colour already hashes the whole request, so the caption alone shows the model, prompt and seed.
    rng = random.Random(hashlib.blake2b(f"{spec.colour}|{index}".encode()).digest())
    a, b, c, d = _palette(spec.colour, rng)
    ramp = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize((cols, rows))
    low = Image.composite(Image.new("RGB", (cols, rows), a), Image.new("RGB", (cols, rows), b), ramp)
    draw = ImageDraw.Draw(low)
    span = max(cols, rows)
    motif = rng.randrange(3)
    if motif == 0:  # checker
        step = rng.randint(2, 4)
        for y in range(rows):
            for x in range(cols):
                if (x // step + y // step) % 2:
                    draw.point((x, y), c)
    elif motif == 1:  # diagonal stripes
        # A diagonal line of width w covers about 1.4 w cells across; keep gaps as wide as the stripes.
        width, period, slope = rng.randint(1, 2), rng.randint(6, 10), rng.choice((1, -1))
        for k in range(-rows, cols + rows, period):
            draw.line((k, 0, k + slope * rows, rows), fill=c, width=width)
    else:  # concentric rings
        cx, cy, step = rng.randrange(cols), rng.randrange(rows), rng.randint(2, 4)
        for ring, radius in enumerate(range(span, 0, -step)):
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(c, b)[ring % 2])
    for _ in range(rng.randint(1, 3)):
        x, y, r = rng.randrange(cols), rng.randrange(rows), rng.randint(1, max(1, span // 5))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=d, outline=a)
    return low


def _layout(index: int, spec: ImageSpec) -> tuple[list[str], int]:
    """The caption lines and the font scale: 3 px per font pixel at 1024, the band at most a third of the height.

    When the band does not fit, the prompt goes first, then the model; the size line stays to the last.
    """
    size = f"{spec.width} x {spec.height}  #{index}" + ("" if spec.seed is None else f"  seed {spec.seed}")
    choices = [[spec.model, size, spec.prompt], [spec.model, size], [size]]
    scale = max(1, round(min(spec.width, spec.height) / 340))
    for choice in choices:
        lines = [line for line in choice if line]
        # The model and size lines decide the scale (down to 1, then they are cut); the prompt is cut to fit.
        widest = (max(len(line) for line in lines[:2]) + 2) * _GLYPH_W
        fitting = max(1, min(scale, spec.width // widest))
        if (len(lines) * (_GLYPH_H + _LINE_GAP) + _LINE_GAP) * fitting <= spec.height // 3:
            return lines, fitting
    return [], 0


def _caption(index: int, spec: ImageSpec, background: RGB) -> Iterator[tuple[bytes, int]]:
    lines, scale = _layout(index, spec)
    if not lines:
        return
    margin = _GLYPH_W * scale
    room = max(0, (spec.width - margin) // (_GLYPH_W * scale))
    gap = bytes(background) * spec.width
    yield gap, _LINE_GAP * scale
    for line in lines:
        text = line if len(line) <= room else line[: room - 3] + "..." if room > 3 else line[:room]
        strip = Image.new("RGB", (spec.width, _GLYPH_H), background)
        if text:
            mask = _text_mask(text, scale)
            strip.paste(_TEXT, (margin, 0, margin + mask.width, _GLYPH_H), mask)
        raw = strip.tobytes()
        for y in range(_GLYPH_H):
            yield raw[y * 3 * spec.width : (y + 1) * 3 * spec.width], scale
        yield gap, _LINE_GAP * scale


def _text_mask(text: str, scale: int) -> Image.Image:
    """``text`` in the bitmap font, widened ``scale`` times; the rows are repeated by the caller."""
    mask = Image.new("L", (len(text) * _GLYPH_W, _GLYPH_H))
    ImageDraw.Draw(mask).text((0, 0), text, font=_FONT, fill=255)
    return mask.resize((mask.width * scale, _GLYPH_H), Image.Resampling.NEAREST)


def _bands(index: int, spec: ImageSpec) -> Iterator[tuple[bytes, int]]:
    width, height = spec.width, spec.height
    cell = -(-max(width, height) // _GRID)
    cols, rows = -(-width // cell), -(-height // cell)
    low = _pattern(spec, index, cols, rows)
    wide = low.resize((cols * cell, rows), Image.Resampling.NEAREST).crop((0, 0, width, rows)).tobytes()
    caption = list(_caption(index, spec, _dark(spec.colour)))
    top = height - sum(count for _, count in caption)
    y = 0
    for row in range(rows):
        count = min((row + 1) * cell, top) - y
        if count <= 0:
            break
        yield wide[row * 3 * width : (row + 1) * 3 * width], count
        y += count
    yield from caption


def _dark(colour: int) -> RGB:
    """The caption band: the key colour at a fifth of its brightness, so white text reads on it."""
    return (colour >> 16) // 5, (colour >> 8 & 0xFF) // 5, (colour & 0xFF) // 5
