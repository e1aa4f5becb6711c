"""Request fields shared by edits and chat: n, prompt, and the sizes the issue's conventions imply.

* ``size: auto`` (or none) with input images keeps the last input's aspect ratio:
  models with 1K/2K tokens get the token (``quality`` high/hd: 2K, low/medium/
  standard: 1K, otherwise the model's default, which follows the input); other
  models get ``W x H`` at the input's ratio and about a megapixel (4 with high/hd),
  which the adapter snaps into the model's bounds.
* OpenRouter's ``image_config`` (``aspect_ratio`` "16:9", ``image_size`` 1K/2K/4K)
  becomes a ``W x H`` at that ratio and pixel budget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from gateway.service.ask import ExtrasSource, ImageAsk
from gateway.service.output import output_of
from gateway.service.references import Reference
from gateway.wire.images import EditRequest, ImageGenerationRequest
from providers.base import ModelInfo
from providers.errors import InvalidRequest
from providers.sizes import TOKEN_SIDES

__all__ = [
    "MAX_N",
    "auto_size",
    "check_n",
    "check_prompt",
    "edit_ask",
    "generation_ask",
    "image_config_size",
    "is_auto",
    "parse_ratio",
    "quality_token",
    "size_for",
]

#: Like OpenAI: at most 10 images per request, whatever the model's own limit.
MAX_N = 10
_QUALITY_TOKENS = {"high": "2K", "hd": "2K", "low": "1K", "medium": "1K", "standard": "1K"}
_RATIO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[:/xX]\s*(\d+(?:\.\d+)?)\s*$")
#: Sides are multiples of this, as the size mapper's own results are.
_STEP = 16


def check_n(n: int | None, param: str = "n") -> int:
    n = 1 if n is None else n
    if not 1 <= n <= MAX_N:
        raise InvalidRequest(f"'{param}' must be between 1 and {MAX_N}, got {n}", param=param)
    return n


def check_prompt(prompt: str, param: str = "prompt") -> str:
    if not prompt.strip():
        raise InvalidRequest(f"'{param}' must not be empty", param=param)
    return prompt


def is_auto(size: str | None) -> bool:
    return size is None or not size.strip() or size.strip().lower() == "auto"


def size_for(width: float, height: float, budget: str) -> str:
    """``W x H`` with the ratio width:height and about ``budget`` (1K = 1024²) pixels."""
    side = TOKEN_SIDES[budget]
    scale = math.sqrt(side * side / (width * height))
    w = max(_STEP, round(width * scale / _STEP) * _STEP)
    h = max(_STEP, round(height * scale / _STEP) * _STEP)
    return f"{w}x{h}"


def auto_size(info: ModelInfo, quality: str | None, last_input: tuple[int, int] | None) -> str | None:
    """The size to send for ``auto`` when the request has input images (None: send none)."""
    wanted = _QUALITY_TOKENS.get((quality or "").lower())
    if info.auto_size == "token":
        return wanted if wanted in info.size_tokens else None
    if info.auto_size == "ratio" and last_input is not None:
        return size_for(*last_input, wanted or "1K")
    return None


#: The GPT-image qualities, which pick a resolution token for generations too.
_GPT_QUALITIES = ("low", "medium", "high")


def quality_token(quality: str | None, tokens: tuple[str, ...]) -> str | None:
    """The token a GPT-image ``quality`` stands for, when the model's sizes include it."""
    token = _QUALITY_TOKENS[quality] if quality in _GPT_QUALITIES else None
    return token if token in tokens else None


def parse_ratio(text: str, param: str) -> tuple[float, float]:
    match = _RATIO.match(text)
    if match is None or float(match.group(1)) <= 0 or float(match.group(2)) <= 0:
        raise InvalidRequest(f"Invalid aspect ratio {text!r}: use 'W:H', e.g. '16:9'", param=param)
    return float(match.group(1)), float(match.group(2))


def image_config_size(aspect_ratio: str | None, image_size: str | None, param: str = "image_config") -> str | None:
    """OpenRouter's ``image_config`` as a size: a token alone stays a token (square); a ratio gets a budget."""
    token = image_size.strip().upper() if image_size else None
    if token is not None and token not in TOKEN_SIDES:
        raise InvalidRequest(f"Invalid image_size {image_size!r}: use 1K, 2K or 4K", param=param)
    if aspect_ratio is None:
        return token
    width, height = parse_ratio(aspect_ratio, param)
    return size_for(width, height, token or "1K")


def generation_ask(req: ImageGenerationRequest, body: bytes) -> ImageAsk:
    return ImageAsk(req.model, req.prompt, req.n, req.size, req.quality, req.style, body, output=output_of(req))


def edit_ask(req: EditRequest, refs: Sequence[Reference], mask: Reference | None, fields: ExtrasSource) -> ImageAsk:
    return ImageAsk(
        req.model,
        req.prompt,
        req.n,
        req.size,
        req.quality,
        req.style,
        fields,
        references=refs,
        needs_references=True,
        output=output_of(req),
        mask=mask,
    )
