"""Images through the Responses API: a request with the ``image_generation`` tool -> an image request,
and images -> a Response object or its event stream.

The prompt is the ``input`` string or the text of the last user message; its
``input_image`` parts are reference images (an edit). The tool's options apply as
they would on ``/v1/images/generations``. Every image becomes one
``image_generation_call`` output item, with the image as base64 in ``result``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

import msgspec

from gateway.service.ask import ImageAsk
from gateway.service.chat_images import message_content
from gateway.service.output import output_of
from gateway.wire.decode import param_of
from gateway.wire.images import ImageGenerationRequest, ImagesResponse
from gateway.wire.responses import (
    ImageGenerationCall,
    ImageTool,
    ItemEvent,
    OutputItemEvent,
    ResponseEvent,
    ResponseObject,
    ResponsesRequest,
    ResponseUsage,
)
from providers.errors import InvalidRequest

__all__ = ["ResponseDraft", "image_count", "image_tool", "responses_ask"]


def image_tool(req: ResponsesRequest) -> ImageTool | None:
    """The request's ``image_generation`` tool, typed (a wrong option is a 400 naming it)."""
    for tool in req.tools or ():
        if isinstance(tool, dict) and tool.get("type") == "image_generation":
            try:
                return msgspec.convert(tool, ImageTool)
            except msgspec.ValidationError as exc:
                raise InvalidRequest(f"Invalid image_generation tool: {exc}", param=f"tools.{param_of(exc)}") from None
    return None


def _prompt(value: str | list[Any] | None) -> tuple[str, list[Any]]:
    if isinstance(value, str):
        return value, []
    for item in reversed(value or []):
        if isinstance(item, dict) and item.get("role") == "user":
            text, refs = message_content(item.get("content"), param="input")
            return text, refs
    raise InvalidRequest("'input' needs a prompt: a string, or a user message with text", param="input")


def responses_ask(req: ResponsesRequest, tool: ImageTool | None, model: str, body: bytes) -> ImageAsk:
    """The image request a Responses request stands for; ``model`` is the image model to use."""
    prompt, refs = _prompt(req.input)
    if not prompt.strip():
        raise InvalidRequest("The input has no text to use as the prompt", param="input")
    tool = tool or ImageTool(type="image_generation")
    options = ImageGenerationRequest(
        prompt=prompt,
        model=model,
        size=tool.size,
        quality=tool.quality,
        background=tool.background,
        output_format=tool.output_format,
        output_compression=tool.output_compression,
        moderation=tool.moderation,
        partial_images=tool.partial_images,
        response_format="b64_json",  # result is always base64
    )
    output = output_of(options)
    return ImageAsk(
        model,
        prompt,
        tool.n,
        tool.size,
        tool.quality,
        None,
        body,
        references=refs,
        reference_param="input",
        # Answered as GPT-image models answer, whatever the model's name: base64, echoed options.
        output=dataclasses.replace(output, gpt=True, response_format="b64_json"),
    )


class ResponseDraft:
    """One Response as it is built: its id, its items' ids, and the stream's sequence numbers."""

    def __init__(self, req: ResponsesRequest, model: str, n: int, action: str) -> None:
        self.id = f"resp_{os.urandom(12).hex()}"
        self.created = int(time.time())
        self.model = model
        self.tools = list(req.tools or [])
        self.tool_choice = req.tool_choice if req.tool_choice is not None else "auto"
        self.instructions = req.instructions
        self.metadata = dict(req.metadata or {})
        self.items = [f"ig_{os.urandom(12).hex()}" for _ in range(n)]
        self.action = action
        self._sequence = 0

    def _next(self) -> int:
        number = self._sequence
        self._sequence += 1
        return number

    def response(
        self, status: str, output: list[ImageGenerationCall], usage: ResponseUsage | None = None
    ) -> ResponseObject:
        return ResponseObject(
            id=self.id,
            created_at=self.created,
            model=self.model,
            status=status,
            output=output,
            tools=self.tools,
            tool_choice=self.tool_choice,
            usage=usage,
            instructions=self.instructions,
            metadata=self.metadata,
            completed_at=int(time.time()) if status == "completed" else None,
        )

    def calls(self, images: ImagesResponse) -> list[ImageGenerationCall]:
        return [
            ImageGenerationCall(
                id=self.items[index] if index < len(self.items) else f"ig_{os.urandom(12).hex()}",
                status="completed",
                result=image.b64_json,
                revised_prompt=image.revised_prompt,
                size=images.size,
                quality=images.quality,
                output_format=images.output_format,
                background=images.background,
                action=self.action,
            )
            for index, image in enumerate(images.data)
        ]

    def done(self, images: ImagesResponse) -> ResponseObject:
        usage = images.usage
        tokens = ResponseUsage(usage.input_tokens, usage.output_tokens, usage.total_tokens) if usage else None
        return self.response("completed", self.calls(images), tokens or ResponseUsage(0, 0, 0))

    def opening(self, encode: Callable[[Any, str], bytes]) -> list[bytes]:
        """``response.created`` .. ``image_generation_call.generating``, sent before the images exist."""
        events = [
            encode(ResponseEvent(name, self._next(), self.response("in_progress", [])), name)
            for name in ("response.created", "response.in_progress")
        ]
        for index, item in enumerate(self.items):
            pending = ImageGenerationCall(id=item, status="in_progress", action=self.action)
            name = "response.output_item.added"
            events.append(encode(OutputItemEvent(name, self._next(), index, pending), name))
            for step in ("in_progress", "generating"):
                name = f"response.image_generation_call.{step}"
                events.append(encode(ItemEvent(name, self._next(), index, item), name))
        return events

    def closing(self, images: ImagesResponse, encode: Callable[[Any, str], bytes]) -> list[bytes]:
        final = self.done(images)
        events: list[bytes] = []
        for index, call in enumerate(final.output):
            name = "response.image_generation_call.completed"
            events.append(encode(ItemEvent(name, self._next(), index, call.id), name))
            name = "response.output_item.done"
            events.append(encode(OutputItemEvent(name, self._next(), index, call), name))
        name = "response.completed"
        events.append(encode(ResponseEvent(name, self._next(), final), name))
        return events


def image_count(tool: ImageTool | None) -> int:
    return tool.n if tool is not None and tool.n is not None else 1
