"""The request extras of Alibaba's Wan and Qwen-Image models, wherever they are served."""

from __future__ import annotations

import msgspec

__all__ = ["WanExtras"]


class WanExtras(msgspec.Struct, kw_only=True):
    """Parameters OpenAI SDK clients send through ``extra_body`` (top level) for these models."""

    negative_prompt: str | None = None
    seed: int | None = None
    prompt_extend: bool | None = None
    watermark: bool | None = None
    thinking_mode: bool | None = None
