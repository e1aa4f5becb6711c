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
from gateway.service.references import Reference
from gateway.service.specs import MAX_N
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
from providers.errors import InvalidRequest, UnsupportedParameter

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


def _earlier_images(items: list[Any]) -> list[Reference]:
    """Images of earlier turns sent back as ``image_generation_call`` items: the next edit's references."""
    refs: list[Reference] = []
    for item in items:
        if not isinstance(item, dict) or item.get("type") != "image_generation_call":
            continue
        result = item.get("result")
        if not isinstance(result, str) or not result:
            raise UnsupportedParameter(
                "An image_generation_call item without its result cannot be used here (earlier responses "
                "are not stored): send the item with its result",
                param="input",
            )
        refs.append(Reference(f"earlier image {len(refs) + 1}", uri=f"data:image/png;base64,{result}"))
    return refs


def _prompt(value: str | list[Any] | None) -> tuple[str, list[Reference]]:
    if isinstance(value, str):
        return value, []
    earlier = _earlier_images(value or [])
    for item in reversed(value or []):
        if isinstance(item, dict) and item.get("role") == "user":
            text, refs = message_content(item.get("content"), param="input")
            return text, earlier + refs
    raise InvalidRequest("'input' needs a prompt: a string, or a user message with text", param="input")


def _mask(tool: ImageTool) -> Reference | None:
    mask = tool.input_image_mask
    if mask is None:
        return None
    if not mask.image_url:
        raise UnsupportedParameter("input_image_mask.file_id is not supported: send image_url", param="tools")
    return Reference("the mask", uri=mask.image_url)


def _refuse_state(req: ResponsesRequest) -> None:
    for name, value in (("previous_response_id", req.previous_response_id), ("conversation", req.conversation)):
        if value is not None:
            raise UnsupportedParameter(
                f"'{name}' is not supported: responses are not stored here. Send the earlier turns in 'input' "
                "(image_generation_call items with their result are used as the images to edit)",
                param=name,
            )


def responses_ask(req: ResponsesRequest, tool: ImageTool | None, model: str, body: bytes) -> ImageAsk:
    """The image request a Responses request stands for; ``model`` is the image model to use."""
    _refuse_state(req)
    prompt, refs = _prompt(req.input)
    if not prompt.strip():
        raise InvalidRequest("The input has no text to use as the prompt", param="input")
    tool = tool or ImageTool(type="image_generation")
    if tool.n is not None and tool.n > MAX_N:
        raise InvalidRequest(f"The image_generation tool's n must be between 1 and {MAX_N}", param="tools.n")
    if tool.action == "generate":
        refs = []  # asked to make a new image: the input images are context, not the image to edit
    elif tool.action == "edit" and not refs:
        raise InvalidRequest("action 'edit' needs an input image", param="tools.action")
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
        mask=_mask(tool),
        # Answered as GPT-image models answer, whatever the model's name: base64, echoed options.
        output=dataclasses.replace(output, gpt=True),
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

    def done(self, images: ImagesResponse, announced: bool = False) -> ResponseObject:
        """The completed Response; ``announced``: its items were streamed as pending, and those
        the upstream did not make (partial failure) are closed as failed, never left open."""
        usage = images.usage
        tokens = ResponseUsage(usage.input_tokens, usage.output_tokens, usage.total_tokens) if usage else None
        calls = self.calls(images)
        if announced:
            calls += [
                ImageGenerationCall(id=item, status="failed", action=self.action) for item in self.items[len(calls) :]
            ]
        return self.response("completed", calls, tokens or ResponseUsage(0, 0, 0))

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
        final = self.done(images, announced=True)
        events: list[bytes] = []
        for index, call in enumerate(final.output):
            if call.status == "completed":
                name = "response.image_generation_call.completed"
                events.append(encode(ItemEvent(name, self._next(), index, call.id), name))
            name = "response.output_item.done"
            events.append(encode(OutputItemEvent(name, self._next(), index, call), name))
        name = "response.completed"
        events.append(encode(ResponseEvent(name, self._next(), final), name))
        return events


def image_count(tool: ImageTool | None) -> int:
    return tool.n if tool is not None and tool.n is not None else 1
