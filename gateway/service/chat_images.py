"""Images through Chat Completions: a chat request -> an image request, and images -> chat answers.

The last user message's text is the prompt and its ``image_url`` parts are the
reference images. ``n``, a top-level ``size`` (as chat image clients send it), ``quality``
and OpenRouter's ``modalities`` / ``image_config`` are honoured. Each image
becomes a choice whose message has ``images: [{"type": "image_url", ...}]`` and,
unless turned off, a markdown image link in ``content`` so chat UIs show it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from gateway.service.ask import ImageAsk
from gateway.service.output import Output
from gateway.service.references import Reference
from gateway.service.routing import Route
from gateway.service.specs import image_config_size, is_auto
from gateway.wire.chat import (
    AssistantMessage,
    ChatChoice,
    ChatChunk,
    ChatCompletion,
    ChatRequest,
    ChatUsage,
    ChunkChoice,
    Delta,
    ImagePart,
    InMessage,
)
from gateway.wire.images import ImagesResponse
from providers.errors import InvalidRequest, UnsupportedParameter

__all__ = [
    "ChatJob",
    "Reply",
    "chat_ask",
    "chat_job",
    "completion",
    "final_chunks",
    "message_content",
    "opening_chunks",
]

_TEXT_PARTS = frozenset({"text", "input_text"})
_IMAGE_PARTS = frozenset({"image_url", "input_image"})


@dataclass(frozen=True, slots=True)
class ChatJob:
    """How the images of one chat request are answered."""

    n: int
    markdown: bool
    include_usage: bool


def _part_url(part: dict[str, Any], label: str, param: str) -> Reference:
    url = part.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    if not isinstance(url, str):
        if part.get("file_id") is not None:
            raise UnsupportedParameter(f"{label}: file_id references are not supported; send image_url", param=param)
        raise InvalidRequest(f'{label}: image_url must be a URL or {{"url": ...}}', param=param)
    return Reference(label, uri=url)


def message_content(content: Any, param: str = "messages") -> tuple[str, list[Reference]]:
    """A message's text and its images, from a string or a list of parts (chat's or the Responses API's)."""
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise InvalidRequest("The last user message has no content", param=param)
    texts: list[str] = []
    refs: list[Reference] = []
    for part in content:
        if not isinstance(part, dict):
            raise InvalidRequest("Message content parts must be objects", param=param)
        kind = part.get("type")
        if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in _IMAGE_PARTS:
            refs.append(_part_url(part, f"reference image {len(refs) + 1}", param))
    return "\n".join(texts), refs


def _last_user(messages: list[InMessage]) -> InMessage:
    for message in reversed(messages):
        if message.role == "user":
            return message
    raise InvalidRequest("'messages' needs a user message: its text is the image prompt", param="messages")


def _size(req: ChatRequest) -> str | None:
    if not is_auto(req.size):
        return req.size
    config = req.image_config
    if config is None:
        return None
    return image_config_size(config.aspect_ratio, config.image_size)


def chat_ask(req: ChatRequest, route: Route, body: bytes) -> ImageAsk:
    """The image request a chat request stands for. Raises InvalidRequest naming the field."""
    if req.modalities is not None and "image" not in req.modalities:
        raise InvalidRequest(
            f"Model '{route.model.id}' answers with images: include \"image\" in 'modalities'", param="modalities"
        )
    prompt, refs = message_content(_last_user(req.messages).content)
    if not prompt.strip():
        raise InvalidRequest("The last user message has no text to use as the prompt", param="messages")
    config = req.image_config
    return ImageAsk(
        req.model,
        prompt,
        req.n,
        _size(req),
        req.quality,
        req.style,
        body,
        references=refs,
        reference_param="messages",
        output=Output(response_format=(config.response_format if config else None) or "url"),
    )


def chat_job(req: ChatRequest, n: int, *, markdown_default: bool) -> ChatJob:
    config = req.image_config
    return ChatJob(
        n=n,
        markdown=config.markdown if config and config.markdown is not None else markdown_default,
        include_usage=bool(req.stream_options and req.stream_options.include_usage),
    )


@dataclass(frozen=True, slots=True)
class Reply:
    """What every answer shape of one chat request shares."""

    id: str
    created: int
    model: str

    @classmethod
    def new(cls, model: str) -> Reply:
        return cls(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), model)


def _urls(images: ImagesResponse) -> list[str]:
    return [d.url or f"data:image/png;base64,{d.b64_json}" for d in images.data]


def _markdown(url: str, index: int, on: bool) -> str | None:
    # Never megabytes of base64 in content: data URIs stay in ``images`` only.
    return f"![image {index + 1}]({url})" if on and url.startswith(("http://", "https://")) else None


def _usage(images: ImagesResponse) -> ChatUsage:
    usage = images.usage
    if usage is None:
        return ChatUsage(0, 0, 0)
    return ChatUsage(usage.input_tokens, usage.output_tokens, usage.total_tokens)


def completion(reply: Reply, images: ImagesResponse, job: ChatJob) -> ChatCompletion:
    choices = [
        ChatChoice(i, AssistantMessage("assistant", _markdown(url, i, job.markdown), [ImagePart.of(url)]), "stop")
        for i, url in enumerate(_urls(images))
    ]
    return ChatCompletion(reply.id, "chat.completion", reply.created, reply.model, choices, _usage(images))


def _chunk(reply: Reply, choices: list[ChunkChoice], usage: ChatUsage | None = None) -> ChatChunk:
    return ChatChunk(reply.id, "chat.completion.chunk", reply.created, reply.model, choices, usage)


def opening_chunks(reply: Reply, n: int) -> list[ChatChunk]:
    return [_chunk(reply, [ChunkChoice(i, Delta(role="assistant", content=""))]) for i in range(n)]


def final_chunks(reply: Reply, images: ImagesResponse, job: ChatJob) -> list[ChatChunk]:
    urls = _urls(images)
    chunks = [
        _chunk(reply, [ChunkChoice(i, Delta(content=_markdown(url, i, job.markdown), images=[ImagePart.of(url)]))])
        for i, url in enumerate(urls)
    ]
    # Every choice opened gets its finish, also one whose image failed upstream (partial failure).
    chunks += [_chunk(reply, [ChunkChoice(i, Delta(), "stop")]) for i in range(max(job.n, len(urls)))]
    if job.include_usage:
        chunks.append(_chunk(reply, [], _usage(images)))
    return chunks
