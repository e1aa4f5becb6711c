"""OpenAI wire shapes. Unknown request fields are ignored: OpenAI adds fields all the time."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import msgspec

from providers.errors import InvalidRequest

__all__ = [
    "EXTRA_NAMES",
    "DashScopeExtras",
    "ErrorBody",
    "ErrorEnvelope",
    "ImageData",
    "ImageGenerationRequest",
    "ImageOptions",
    "ImagesResponse",
    "ImagesUsage",
    "decode_request",
]

T = TypeVar("T")



class DashScopeExtras(msgspec.Struct, kw_only=True):
    """DashScope parameters OpenAI SDK clients send through ``extra_body`` (top level).

    Typed, so a wrong type is a 400 naming the field (multipart text converts).
    """

    negative_prompt: str | None = None
    seed: int | None = None
    prompt_extend: bool | None = None
    watermark: bool | None = None
    thinking_mode: bool | None = None

    def extras(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in EXTRA_NAMES if getattr(self, name) is not None}


EXTRA_NAMES = tuple(DashScopeExtras.__struct_fields__)


class ImageOptions(DashScopeExtras, kw_only=True):
    """The OpenAI image request fields shared by generations and edits."""

    prompt: str
    model: str | None = None
    n: int | None = None
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    response_format: Literal["url", "b64_json"] | None = None
    user: str | None = None


class ImageGenerationRequest(ImageOptions, kw_only=True):
    pass


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


class ErrorBody(msgspec.Struct):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorEnvelope(msgspec.Struct):
    error: ErrorBody


def _param_of(error: msgspec.ValidationError) -> str | None:
    text = str(error)
    if "missing required field `" in text:
        return text.split("missing required field `", 1)[1].split("`")[0]
    marker = "at `$."
    if marker not in text:
        return None
    path = text.split(marker, 1)[1].rstrip("`")
    return path.split(".")[0].split("[")[0] or None


def decode_request(body: bytes, type_: type[T]) -> T:
    """Decode a JSON body; any problem is a 400 naming the field where there is one."""
    if not body.strip():
        raise InvalidRequest("The request body is empty; send a JSON object")
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        param = _param_of(exc)
        raise InvalidRequest(f"Invalid request: {exc}", param=param) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
