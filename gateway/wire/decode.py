"""JSON request bodies into wire Structs: every problem is a 400 naming the field where there is one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from providers.errors import TOO_DEEP, InvalidRequest, UnsupportedContentType

__all__ = ["FORM_TYPES", "convert_form", "decode_request", "media_type", "param_of", "require_json"]

T = TypeVar("T")


def param_of(error: msgspec.ValidationError) -> str | None:
    text = str(error)
    if "missing required field `" in text:
        return text.split("missing required field `", 1)[1].split("`")[0]
    marker = "at `$."
    if marker not in text:
        return None
    path = text.split(marker, 1)[1].rstrip("`")
    return path.split(".")[0].split("[")[0] or None


def media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


#: The media types whose bodies are read as form fields.
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def convert_form(fields: Mapping[str, Any], type_: type[T]) -> T:
    """Form fields into a Struct; a problem is a 400 naming the field."""
    try:
        # strict=False: form fields are text ("2", "true") where the Struct says int or bool.
        return msgspec.convert(fields, type_, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid request: {exc}", param=param_of(exc)) from None


def require_json(content_type: str) -> None:
    """415 unless the body is declared JSON (or not declared at all, as some scripts send it)."""
    kind = media_type(content_type)
    if kind and kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedContentType(f"Unsupported Content-Type {kind!r}: send application/json")


def decode_request(body: bytes, type_: type[T]) -> T:
    """Decode a JSON body; any problem is a 400 naming the field where there is one."""
    if not body.strip():
        raise InvalidRequest("The request body is empty; send a JSON object")
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        param = param_of(exc)
        raise InvalidRequest(f"Invalid request: {exc}", param=param) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidRequest(TOO_DEEP) from None
