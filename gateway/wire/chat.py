"""Chat Completions wire shapes, with images the OpenRouter / LiteLLM way (``message.images``).

Requests decode leniently (unknown fields ignored, ``content`` kept as it came),
because text-model requests are proxied as they are and OpenAI keeps adding fields.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from gateway.wire.images import Quality

__all__ = [
    "AssistantMessage",
    "ChatChoice",
    "ChatChunk",
    "ChatCompletion",
    "ChatHead",
    "ChatRequest",
    "ChatUsage",
    "ChunkChoice",
    "Delta",
    "ImageConfig",
    "ImagePart",
    "ImageUrl",
    "InMessage",
]


class ChatHead(msgspec.Struct):
    """Just enough of a chat request to route it."""

    model: str | None = None
    stream: bool | None = None


class InMessage(msgspec.Struct):
    role: str
    content: Any = None


class ImageConfig(msgspec.Struct, kw_only=True):
    #: OpenRouter's: "16:9" and "1K"/"2K"/"4K".
    aspect_ratio: str | None = None
    image_size: str | None = None
    #: This gateway's: images as upstream URLs (default) or as data: URIs.
    response_format: Literal["url", "b64_json"] | None = None
    #: This gateway's: a markdown image link per image in ``content`` (default on).
    markdown: bool | None = None


class StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class ChatRequest(msgspec.Struct, kw_only=True):
    messages: list[InMessage]
    model: str | None = None
    n: int | None = None
    #: Top-level, as chat image clients send it ("1792x1024").
    size: str | None = None
    quality: Quality | None = None
    style: str | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    modalities: list[str] | None = None
    image_config: ImageConfig | None = None
    user: str | None = None


class ImageUrl(msgspec.Struct):
    url: str


class ImagePart(msgspec.Struct):
    type: str
    image_url: ImageUrl

    @classmethod
    def of(cls, url: str) -> ImagePart:
        return cls("image_url", ImageUrl(url))


class AssistantMessage(msgspec.Struct):
    role: str
    content: str | None
    images: list[ImagePart]
    refusal: None = None


class ChatChoice(msgspec.Struct):
    index: int
    message: AssistantMessage
    finish_reason: str
    logprobs: None = None


class ChatUsage(msgspec.Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(msgspec.Struct):
    id: str
    object: str
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage
    system_fingerprint: None = None


class Delta(msgspec.Struct, omit_defaults=True):
    role: str | None = None
    content: str | None = None
    images: list[ImagePart] | None = None


class ChunkChoice(msgspec.Struct):
    index: int
    delta: Delta
    finish_reason: str | None = None
    logprobs: None = None


class ChatChunk(msgspec.Struct, omit_defaults=True):
    id: str
    object: str
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: ChatUsage | None = None
