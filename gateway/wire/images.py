"""The images resource's wire shapes (openai-python ``types/images_response.py``, ``image_generate_params.py``).

Unknown request fields are ignored: OpenAI adds fields all the time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "NO_USAGE",
    "EditRequest",
    "ImageData",
    "ImageGenerationRequest",
    "ImageOptions",
    "ImageStreamCompleted",
    "ImagesResponse",
    "ImagesUsage",
    "InputTokensDetails",
    "Quality",
    "VariationRequest",
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
    # The GPT-image fields, typed so a wrong value is a 400 (service/output.py says what
    # each does here).
    stream: bool | None = None
    partial_images: Annotated[int, msgspec.Meta(ge=0, le=3)] | None = None
    background: Literal["auto", "opaque", "transparent"] | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    output_compression: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    moderation: Literal["auto", "low"] | None = None
    #: The gateway's own (``extra_body``): where a job's end is announced; never sent upstream.
    webhook_url: str | None = None


class ImageGenerationRequest(ImageOptions, kw_only=True):
    pass


class EditRequest(ImageOptions, kw_only=True):
    input_fidelity: Literal["low", "high"] | None = None
    # JSON bodies carry images here: a URL or data URI, a list of them, or OpenAI's
    # ``images: [{"image_url": ...}]``.
    image: Any = None
    images: Any = None
    mask: Any = None


class VariationRequest(msgspec.Struct, kw_only=True):
    """``images.create_variation``: DALL-E 2's fields (no prompt: the configured one is used)."""

    model: str | None = None
    n: int | None = None
    size: str | None = None
    response_format: Literal["url", "b64_json"] | None = None
    user: str | None = None
    image: Any = None
    webhook_url: str | None = None


class ImageData(msgspec.Struct, omit_defaults=True):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


class InputTokensDetails(msgspec.Struct):
    text_tokens: int = 0
    image_tokens: int = 0


class ImagesUsage(msgspec.Struct):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: InputTokensDetails = msgspec.field(default_factory=InputTokensDetails)

    @classmethod
    def of(cls, input_tokens: int, output_tokens: int, total_tokens: int, input_images: int = 0) -> ImagesUsage:
        # DashScope reports input tokens as one number: with input images they are
        # counted as image tokens, without them as text tokens.
        details = InputTokensDetails(0, input_tokens) if input_images else InputTokensDetails(input_tokens, 0)
        return cls(input_tokens, output_tokens, total_tokens, details)


NO_USAGE = ImagesUsage(0, 0, 0)


class ImagesResponse(msgspec.Struct, omit_defaults=True):
    created: int
    data: list[ImageData]
    size: str | None = None
    usage: ImagesUsage | None = None
    # Echoed as GPT-image models answer (only to requests answered that way).
    quality: str | None = None
    output_format: str | None = None
    background: str | None = None


class ImageStreamCompleted(msgspec.Struct):
    """``image_generation.completed`` / ``image_edit.completed`` (openai-python ``image_gen_completed_event.py``)."""

    type: str
    b64_json: str
    created_at: int
    size: str
    quality: str
    background: str
    output_format: str
    usage: ImagesUsage
