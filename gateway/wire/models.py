"""The models resource's wire shapes: OpenAI's model list, plus what each model can do."""

from __future__ import annotations

import msgspec

__all__ = ["Capabilities", "ModelCard", "ModelList"]


class Capabilities(msgspec.Struct, kw_only=True):
    type: str
    sync: bool
    async_: bool = msgspec.field(name="async")
    generations: bool
    edits: bool
    chat: bool
    #: Images one request may ask for (more than ``max_n_per_call`` fan out into parallel calls).
    max_n: int
    max_n_per_call: int
    min_input_images: int
    max_input_images: int
    max_input_image_bytes: int | None
    size_rule: str
    edit_size_rule: str | None = None
    #: Takes an OpenAI ``mask`` (inpainting).
    masks: bool = False
    #: Provider parameters it takes through ``extra_body`` (``negative_prompt``, ``bbox_list``, ...).
    options: list[str] = []


class ModelCard(msgspec.Struct):
    id: str
    object: str
    created: int
    owned_by: str
    capabilities: Capabilities


class ModelList(msgspec.Struct):
    object: str
    data: list[ModelCard]
