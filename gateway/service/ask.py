"""What a client asked for, in the one shape every image route describes it in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from gateway.service.output import PLAIN, Output
from gateway.service.references import Reference

__all__ = ["GATEWAY_FIELDS", "ExtrasSource", "ImageAsk", "provider_fields"]

#: Where a request's provider extras are read from: its JSON body, or its form fields.
ExtrasSource = bytes | Mapping[str, Any]
#: Body fields that are the gateway's own: taken off before any provider kind reads its extras,
#: so none can send them upstream, whatever it declares.
GATEWAY_FIELDS = ("webhook_url",)


def provider_fields(fields: ExtrasSource) -> ExtrasSource:
    """``fields`` without :data:`GATEWAY_FIELDS` (the body untouched when it has none)."""
    if isinstance(fields, bytes):
        if not any(name.encode() in fields for name in GATEWAY_FIELDS):
            return fields
        try:
            body = msgspec.json.decode(fields)
        except (msgspec.DecodeError, RecursionError):
            return fields  # already read once by the route: cannot happen; the extras decoder says why
        if not isinstance(body, dict):
            return fields
        for name in GATEWAY_FIELDS:
            body.pop(name, None)
        return msgspec.json.encode(body)
    return {key: value for key, value in fields.items() if key.split("[", 1)[0] not in GATEWAY_FIELDS}


@dataclass(frozen=True, slots=True)
class ImageAsk:
    """What a client asked for, from any route, before any model is looked at."""

    model: str | None
    prompt: str
    n: int | None
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    #: Read once per kind of target, with that kind's extras Struct.
    fields: ExtrasSource = b"{}"
    #: Input images; None for routes that take none (generations).
    references: Sequence[Reference] | None = None
    #: Edits: at least one input image is required.
    needs_references: bool = False
    #: The request field errors about input images name.
    reference_param: str = "image"
    output: Output = PLAIN
    #: An OpenAI mask (transparent = the area to edit) for the one input image.
    mask: Reference | None = None

    def __repr__(self) -> str:
        return f"ImageAsk(model={self.model!r}, n={self.n!r})"  # prompts and images stay out of logs
