"""What a client asked for, in the one shape every image route describes it in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.service.output import PLAIN, Output
from gateway.service.references import Reference

__all__ = ["ExtrasSource", "ImageAsk"]

#: Where a request's provider extras are read from: its JSON body, or its form fields.
ExtrasSource = bytes | Mapping[str, Any]


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
