"""The Responses API's image subset (openai-python ``types/responses/``: ``response.py``,
``response_output_item.py``, ``tool.py``'s ``ImageGeneration``, the stream events).

Requests decode leniently: ``input`` items and tools other than image generation are
kept as they came, because requests for text models are proxied as they are.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from gateway.wire.images import Quality

__all__ = [
    "ImageGenerationCall",
    "ImageTool",
    "ItemEvent",
    "OutputItemEvent",
    "ResponseEvent",
    "ResponseObject",
    "ResponseUsage",
    "ResponsesRequest",
]


class ResponsesRequest(msgspec.Struct, kw_only=True):
    model: str | None = None
    input: str | list[Any] | None = None
    tools: list[Any] | None = None
    stream: bool | None = None
    instructions: str | None = None
    tool_choice: Any = None
    metadata: dict[str, str] | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None
    # Server-side conversation state is not kept here: refused by name, never ignored.
    previous_response_id: str | None = None
    conversation: Any = None


class MaskRef(msgspec.Struct, kw_only=True):
    image_url: str | None = None
    file_id: str | None = None


class ImageTool(msgspec.Struct, kw_only=True):
    """``{"type": "image_generation", ...}``; ``n`` is this gateway's (one call per image)."""

    type: Literal["image_generation"]
    model: str | None = None
    size: str | None = None
    quality: Quality | None = None
    background: Literal["auto", "opaque", "transparent"] | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    output_compression: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    moderation: Literal["auto", "low"] | None = None
    partial_images: Annotated[int, msgspec.Meta(ge=0, le=3)] | None = None
    input_fidelity: Literal["low", "high"] | None = None
    action: Literal["generate", "edit", "auto"] | None = None
    input_image_mask: MaskRef | None = None
    n: Annotated[int, msgspec.Meta(ge=1)] | None = None


class ImageGenerationCall(msgspec.Struct, omit_defaults=True, tag_field="type", tag="image_generation_call"):
    """An output item; its ``type`` (the tag) is always sent: clients tell items apart by it."""

    id: str
    status: str
    result: str | None = None
    revised_prompt: str | None = None
    size: str | None = None
    quality: str | None = None
    output_format: str | None = None
    background: str | None = None
    action: str | None = None


class InputDetails(msgspec.Struct):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputDetails(msgspec.Struct):
    reasoning_tokens: int = 0


class ResponseUsage(msgspec.Struct):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: InputDetails = msgspec.field(default_factory=InputDetails)
    output_tokens_details: OutputDetails = msgspec.field(default_factory=OutputDetails)


class ResponseObject(msgspec.Struct):
    id: str
    created_at: int
    model: str
    status: str
    output: list[ImageGenerationCall]
    tools: list[Any]
    object: str = "response"
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True
    usage: ResponseUsage | None = None
    error: None = None
    incomplete_details: None = None
    instructions: str | None = None
    metadata: dict[str, str] = {}
    temperature: float | None = None
    top_p: float | None = None
    completed_at: int | None = None


class ResponseEvent(msgspec.Struct):
    """``response.created`` / ``response.in_progress`` / ``response.completed``."""

    type: str
    sequence_number: int
    response: ResponseObject


class OutputItemEvent(msgspec.Struct):
    """``response.output_item.added`` / ``response.output_item.done``."""

    type: str
    sequence_number: int
    output_index: int
    item: ImageGenerationCall


class ItemEvent(msgspec.Struct):
    """``response.image_generation_call.in_progress`` / ``.generating`` / ``.completed``."""

    type: str
    sequence_number: int
    output_index: int
    item_id: str
