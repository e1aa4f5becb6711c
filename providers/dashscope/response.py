"""DashScope answers -> images, a task to poll, or an error."""

from __future__ import annotations

import msgspec

from providers.base import Billing, GeneratedImage, HttpResponse, ImageBatch, TaskRef, TokenUsage
from providers.dashscope.errors import COMPAT_CODES, error_for_code
from providers.errors import ApiError, UpstreamError

__all__ = ["parse_compat", "parse_poll", "parse_result"]

_RUNNING = frozenset({"PENDING", "RUNNING"})


class _Usage(msgspec.Struct):
    size: str | None = None
    width: int | None = None
    height: int | None = None
    image_count: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    # qwen-image-3.0 reports its output by billing tier.
    output_width: int | None = None
    output_height: int | None = None
    output_image_count: int | None = None
    output_image_type: str | None = None
    input_image_count: int | None = None


class _Content(msgspec.Struct):
    image: str | None = None
    text: str | None = None


class _Message(msgspec.Struct):
    content: list[_Content] | str | None = None


class _Choice(msgspec.Struct):
    message: _Message | None = None


class _Result(msgspec.Struct):
    url: str | None = None
    actual_prompt: str | None = None
    code: str | None = None
    message: str | None = None


class _Output(msgspec.Struct):
    task_id: str | None = None
    task_status: str | None = None
    choices: list[_Choice] | None = None
    results: list[_Result] | None = None
    code: str | None = None
    message: str | None = None


class _Body(msgspec.Struct):
    output: _Output | None = None
    usage: _Usage | None = None
    request_id: str | None = None
    code: str | None = None
    message: str | None = None
    msg: str | None = None


def _decode(response: HttpResponse) -> _Body:
    try:
        body = msgspec.json.decode(response.body, type=_Body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):  # not an answer of DashScope's shape
        body = None
    if response.status >= 400 or body is None or (body.code and body.output is None):
        # Business errors also arrive inside HTTP 200 bodies: a code and no output.
        raise _failure(
            response,
            body is not None,
            body.code if body else None,
            (body.message or body.msg) if body else None,
            (body.request_id if body else None) or response.headers.get("x-request-id"),
        )
    if body.output is None:
        raise UpstreamError(
            "DashScope answered without an output", upstream_request_id=body.request_id, evidence="unknown"
        )
    return body


def _size(usage: _Usage | None) -> tuple[int, int] | None:
    if usage is None:
        return None
    if usage.size:
        try:
            width, height = (int(v) for v in usage.size.split("*"))
            return width, height
        except ValueError:
            return None
    if usage.width and usage.height:
        return usage.width, usage.height
    if usage.output_width and usage.output_height:
        return usage.output_width, usage.output_height
    return None


def _tokens(usage: _Usage | None) -> TokenUsage | None:
    if usage is None or not (usage.input_tokens or usage.output_tokens or usage.total_tokens):
        return None
    return TokenUsage(usage.input_tokens or 0, usage.output_tokens or 0, usage.total_tokens or 0)


def _billing(usage: _Usage | None, made: int) -> Billing:
    """What was billed, from the answer (never from the request): counts and tier as reported."""
    if usage is None:
        return Billing(made)
    images = usage.output_image_count if usage.output_image_count is not None else usage.image_count
    tier = None
    if usage.output_image_type:
        tier = usage.output_image_type.rsplit("_", 1)[-1]  # qima_output_2k -> 2k
    return Billing(images if images is not None else made, tier, usage.input_image_count or 0)


def _images(output: _Output, text_is_prompt: bool) -> tuple[list[GeneratedImage], list[_Result]]:
    """Successful images in order, and the per-image failures (partial failure).

    ``text_is_prompt``: a choice's text item is the prompt the model used (z-image-turbo
    with prompt_extend), given as each of its images' revised_prompt.
    """
    images: list[GeneratedImage] = []
    failures: list[_Result] = []
    for result in output.results or ():
        if result.url and not result.code:
            images.append(GeneratedImage(result.url, result.actual_prompt))
        else:
            failures.append(result)
    for choice in output.choices or ():
        content = choice.message.content if choice.message else None
        if isinstance(content, list):
            texts = [item.text for item in content if item.text] if text_is_prompt else []
            revised = texts[0] if texts else None
            images.extend(GeneratedImage(item.image, revised) for item in content if item.image)
    return images, failures


def _batch(body: _Body, text_is_prompt: bool = False) -> ImageBatch:
    assert body.output is not None
    images, failures = _images(body.output, text_is_prompt)
    if not images:
        first = failures[0] if failures else None
        if first is None:
            raise UpstreamError("DashScope returned no images", upstream_request_id=body.request_id, evidence="unknown")
        raise error_for_code(first.code, first.message, status=500, request_id=body.request_id)
    made = tuple(images)
    return ImageBatch(made, _size(body.usage), _tokens(body.usage), body.request_id, _billing(body.usage, len(made)))


def parse_result(response: HttpResponse, *, text_is_prompt: bool = False) -> ImageBatch | TaskRef:
    """A sync answer's images, or the task an async submit created."""
    body = _decode(response)
    assert body.output is not None
    if body.output.task_id and body.output.task_status in _RUNNING:
        return TaskRef(body.output.task_id, body.request_id)
    return _batch(body, text_is_prompt)


def parse_poll(response: HttpResponse) -> ImageBatch | None:
    """None while the task runs; its images once it succeeded; raises when it ended otherwise."""
    body = _decode(response)
    output = body.output
    assert output is not None
    status = output.task_status
    if status in _RUNNING:
        return None
    try:
        if status == "SUCCEEDED":
            return _batch(body)
        if status == "FAILED":
            raise error_for_code(output.code, output.message, status=500, request_id=body.request_id)
    except ApiError as err:
        err.task_ended = True
        raise
    reason = {
        "CANCELED": "the task was canceled upstream",
        "UNKNOWN": "the task is unknown upstream (expired, or created in another region)",
    }.get(status or "", f"the task ended in an unexpected state {status!r}")
    raise _terminal(reason, body.request_id)


def _failure(
    response: HttpResponse, readable: bool, code: str | None, message: str | None, request_id: str | None
) -> ApiError:
    """The error for an answer that is not images. An unreadable one at HTTP 2xx may have made them."""
    if not readable and response.status < 400:
        return UpstreamError(
            f"DashScope answered HTTP {response.status} with a body that is not a DashScope answer",
            evidence="unknown",
        )
    return error_for_code(
        code, message, status=response.status, request_id=request_id, retry_after=response.retry_after
    )


def _terminal(reason: str, request_id: str | None) -> ApiError:
    return UpstreamError(f"DashScope: {reason}", upstream_request_id=request_id, retryable=False)


class _CompatImage(msgspec.Struct):
    url: str | None = None


class _CompatError(msgspec.Struct):
    message: str | None = None
    code: str | None = None


class _CompatBody(msgspec.Struct):
    data: list[_CompatImage] | None = None
    usage: _Usage | None = None
    error: _CompatError | None = None


def parse_compat(response: HttpResponse) -> ImageBatch:
    """An answer of the OpenAI-compatible image endpoint: ``{created, data: [{url}], usage}``."""
    request_id = response.headers.get("x-request-id")
    try:
        body = msgspec.json.decode(response.body, type=_CompatBody)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        body = None
    if response.status >= 400 or body is None or body.error is not None:
        error = body.error if body else None
        code = error.code if error else None
        code = COMPAT_CODES.get(code, code) if code else None
        raise _failure(response, body is not None, code, error.message if error else None, request_id)
    images = tuple(GeneratedImage(item.url) for item in body.data or () if item.url)
    if not images:
        raise UpstreamError("DashScope returned no images", upstream_request_id=request_id, evidence="unknown")
    return ImageBatch(images, _size(body.usage), _tokens(body.usage), request_id, _billing(body.usage, len(images)))
