"""Answers from OpenAI-compatible upstreams -> images or an error, in every shape seen in the wild.

Images come as OpenAI ``data[]`` (``url`` or ``b64_json``), DashScope-native
``output.choices[].message.content[].image`` (also wrapped in a ``data`` object, as
some media proxies do), chat ``message.images`` (OpenRouter, LiteLLM, this
gateway), or markdown image links in a chat message's ``content``.
"""

from __future__ import annotations

import re

import msgspec

from providers.base import GeneratedImage, HttpResponse, ImageBatch, TokenUsage
from providers.errors import UpstreamError
from providers.openai_compat.errors import decode_error, error_for

__all__ = ["parse_images"]

_MARKDOWN_IMAGE = re.compile(r'!\[[^\]]*\]\(\s*<?([^\s<>)]+)>?(?:\s+"[^"]*")?\s*\)')
_B64_MIME = (("iVBOR", "image/png"), ("/9j/", "image/jpeg"), ("UklGR", "image/webp"), ("Qk", "image/bmp"))


class _ImageUrl(msgspec.Struct):
    url: str | None = None


class _Part(msgspec.Struct):
    type: str | None = None
    image: str | None = None
    image_url: _ImageUrl | str | None = None
    text: str | None = None


class _Message(msgspec.Struct):
    content: str | list[_Part] | None = None
    images: list[_Part] | None = None


class _Choice(msgspec.Struct):
    message: _Message | None = None


class _Item(msgspec.Struct):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None
    actual_prompt: str | None = None


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    size: str | None = None
    width: int | None = None
    height: int | None = None


class _Output(msgspec.Struct):
    choices: list[_Choice] | None = None
    results: list[_Item] | None = None


class _Inner(msgspec.Struct):
    output: _Output | None = None
    usage: _Usage | None = None
    request_id: str | None = None


class _Body(msgspec.Struct):
    data: list[_Item] | _Inner | None = None
    choices: list[_Choice] | None = None
    output: _Output | None = None
    usage: _Usage | None = None
    size: str | None = None
    request_id: str | None = None


def _b64_url(b64: str) -> str:
    mime = next((m for prefix, m in _B64_MIME if b64.startswith(prefix)), "image/png")
    return f"data:{mime};base64,{b64}"


def _from_items(items: list[_Item]) -> list[GeneratedImage]:
    images = []
    for item in items:
        if item.url:
            images.append(GeneratedImage(item.url, item.revised_prompt or item.actual_prompt))
        elif item.b64_json:
            # Kept as a data: URI; the gateway decodes it instead of downloading.
            images.append(GeneratedImage(_b64_url(item.b64_json), item.revised_prompt))
    return images


def _part_url(part: _Part) -> str | None:
    if part.image:
        return part.image
    if isinstance(part.image_url, str):
        return part.image_url
    return part.image_url.url if part.image_url else None


def _from_message(message: _Message) -> list[str]:
    # A message that lists its images usually repeats them as markdown in its text: take the list only.
    if message.images:
        return [url for url in map(_part_url, message.images) if url]
    if isinstance(message.content, list):
        return [url for url in map(_part_url, message.content) if url]
    if isinstance(message.content, str):
        return _MARKDOWN_IMAGE.findall(message.content)
    return []


def _from_choices(choices: list[_Choice]) -> list[GeneratedImage]:
    return [GeneratedImage(url) for choice in choices if choice.message for url in _from_message(choice.message)]


def _from_output(output: _Output) -> list[GeneratedImage]:
    return _from_items(output.results or []) + _from_choices(output.choices or [])


def _size(body: _Body, usage: _Usage | None) -> tuple[int, int] | None:
    for text in (body.size, usage.size if usage else None):
        if text:
            parts = re.split(r"[x*]", text)
            if len(parts) == 2 and all(p.isdigit() for p in parts):
                return int(parts[0]), int(parts[1])
    if usage and usage.width and usage.height:
        return usage.width, usage.height
    return None


def _tokens(usage: _Usage | None) -> TokenUsage | None:
    if usage is None:
        return None
    inputs = usage.input_tokens or usage.prompt_tokens or 0
    outputs = usage.output_tokens or usage.completion_tokens or 0
    total = usage.total_tokens or inputs + outputs
    return TokenUsage(inputs, outputs, total) if total else None


def _snippet(body: _Body) -> str:
    for choice in body.choices or []:
        if choice.message and isinstance(choice.message.content, str) and choice.message.content.strip():
            return f": it said {choice.message.content.strip()[:200]!r}"
    return ""


def parse_images(response: HttpResponse) -> ImageBatch:
    """The images of a successful answer. Raises ApiError (also for errors inside a 200)."""
    try:
        body = msgspec.json.decode(response.body, type=_Body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        raise UpstreamError(
            f"The upstream answered HTTP {response.status} with a body that holds no images", evidence="unknown"
        ) from None
    inner = body.data if isinstance(body.data, _Inner) else None
    usage = body.usage or (inner.usage if inner else None)
    images = _from_items(body.data) if isinstance(body.data, list) else []
    images += _from_choices(body.choices or [])
    for output in (body.output, inner.output if inner else None):
        if output is not None:
            images += _from_output(output)
    request_id = body.request_id or (inner.request_id if inner else None) or response.headers.get("x-request-id")
    if not images:
        error = decode_error(response)
        if error is not None and (error.error or error.code):
            raise error_for(HttpResponse(502, response.headers, response.body))
        raise UpstreamError(
            f"The upstream answered without images{_snippet(body)}", upstream_request_id=request_id, evidence="unknown"
        )
    return ImageBatch(tuple(images), _size(body, usage), _tokens(usage), request_id)
