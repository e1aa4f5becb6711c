"""The images resource's wire shapes (openai-python ``types/images_response.py``, ``image_generate_params.py``).

Unknown request fields are ignored: OpenAI adds fields all the time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "EditRequest",
    "ImageData",
    "ImageGenerationRequest",
    "ImageOptions",
    "ImagesResponse",
    "ImagesUsage",
    "Quality",
]


#: OpenAI's qualities: DALL-E's standard/hd, GPT-image's low/medium/high, and auto.
Quality = Literal["auto", "standard", "hd", "low", "medium", "high"]


class ImageOptions(msgspec.Struct, kw_only=True):
    """The OpenAI image request fields shared by generations and edits.

    Provider parameters (``extra_body``) are read per target, with its kind's extras Struct.
    """

    prompt: str
    model: str | None = None
    n: int | None = None
    size: str | None = None
    quality: Quality | None = None
    # Providers' own styles too (wanx-v1 takes "<photography>", ...): checked by the adapter.
    style: str | None = None
    response_format: Literal["url", "b64_json"] | None = None
    user: str | None = None
    # The GPT-image fields, typed so a wrong value is a 400; those that would change the
    # image in a way not made here are refused by name (service/specs.py).
    stream: bool | None = None
    partial_images: Annotated[int, msgspec.Meta(ge=0, le=3)] | None = None
    background: Literal["auto", "opaque", "transparent"] | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    output_compression: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    moderation: Literal["auto", "low"] | None = None


class ImageGenerationRequest(ImageOptions, kw_only=True):
    pass


class EditRequest(ImageOptions, kw_only=True):
    input_fidelity: Literal["low", "high"] | None = None
    # JSON bodies carry images here: a URL or data URI, a list of them, or OpenAI's
    # ``images: [{"image_url": ...}]``.
    image: Any = None
    images: Any = None
    mask: Any = None


class ImageData(msgspec.Struct, omit_defaults=True):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


class ImagesUsage(msgspec.Struct):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class ImagesResponse(msgspec.Struct, omit_defaults=True):
    created: int
    data: list[ImageData]
    size: str | None = None
    usage: ImagesUsage | None = None
