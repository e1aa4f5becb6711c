"""msgspec Structs for the DashScope wire shapes."""

from __future__ import annotations

import msgspec

# ---- requests: unknown fields are ignored, types are checked --------------------------------------------


class ContentItem(msgspec.Struct):
    text: str | None = None
    image: str | None = None
    type: str | None = None  # third-party wrappers add it; the official shape has none


class Message(msgspec.Struct):
    role: str
    content: list[ContentItem]


class Input(msgspec.Struct):
    prompt: str | None = None
    negative_prompt: str | None = None
    messages: list[Message] | None = None
    images: list[str] | None = None
    ref_img: str | None = None
    function: str | None = None
    base_image_url: str | None = None
    mask_image_url: str | None = None


class PaletteEntry(msgspec.Struct):
    hex: str
    ratio: str | float


class Parameters(msgspec.Struct):
    size: str | None = None
    n: int | None = None
    seed: int | None = None
    prompt_extend: bool | None = None
    watermark: bool | None = None
    negative_prompt: str | None = None
    style: str | None = None
    ref_strength: float | None = None
    ref_mode: str | None = None
    thinking_mode: bool | str | None = None  # bool per the docs, string per the SDK docstring
    enable_sequential: bool | None = None
    enable_interleave: bool | None = None
    max_images: int | None = None
    bbox_list: list[list[list[float]]] | None = None
    color_palette: list[PaletteEntry] | None = None
    upscale_factor: int | None = None
    prompt_extend_mode: str | None = None
    enable_thinking: bool | None = None


# ---- responses ---------------------------------------------------------------------------------------


class ErrorBody(msgspec.Struct):
    code: str
    message: str
    request_id: str


class SubmitOutput(msgspec.Struct):
    task_status: str
    task_id: str


class SubmitResponse(msgspec.Struct):
    output: SubmitOutput
    request_id: str


class ContentOut(msgspec.Struct, omit_defaults=True):
    image: str | None = None
    text: str | None = None
    type: str | None = None


class MessageOut(msgspec.Struct):
    role: str
    content: list[ContentOut]


class Choice(msgspec.Struct):
    finish_reason: str
    message: MessageOut


class TaskMetrics(msgspec.Struct):
    TOTAL: int
    SUCCEEDED: int
    FAILED: int


class Usage(msgspec.Struct, omit_defaults=True):
    image_count: int | None = None
    size: str | None = None
    width: int | None = None
    height: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    # qwen-image-3.0's billing tiers.
    output_width: int | None = None
    output_height: int | None = None
    input_image_count: int | None = None
    input_image_type: str | None = None
    output_image_count: int | None = None
    output_image_type: str | None = None


class SyncOutput(msgspec.Struct, omit_defaults=True):
    choices: list[Choice]
    finished: bool | None = None
    task_metric: TaskMetrics | None = None


class SyncResponse(msgspec.Struct):
    output: SyncOutput
    usage: Usage
    request_id: str


class ResultItem(msgspec.Struct, omit_defaults=True):
    orig_prompt: str | None = None
    actual_prompt: str | None = None
    url: str | None = None
    code: str | None = None
    message: str | None = None


class TaskOutput(msgspec.Struct, omit_defaults=True):
    task_id: str
    task_status: str
    submit_time: str | None = None
    scheduled_time: str | None = None
    end_time: str | None = None
    finished: bool | None = None
    results: list[ResultItem] | None = None
    choices: list[Choice] | None = None
    task_metrics: TaskMetrics | None = None
    code: str | None = None
    message: str | None = None


class TaskResponse(msgspec.Struct, omit_defaults=True):
    request_id: str
    output: TaskOutput
    usage: Usage | None = None


class RequestIdOnly(msgspec.Struct):
    request_id: str


class TaskListItem(msgspec.Struct):
    api_key_id: str
    caller_parent_id: str
    caller_uid: str
    end_time: int | None
    gmt_create: int
    model_name: str
    region: str
    request_id: str
    start_time: int | None
    status: str
    task_id: str
    user_api_unique_key: str


class TaskList(msgspec.Struct):
    total: int
    data: list[TaskListItem]
    total_page: int
    page_no: int
    request_id: str
    page_size: int
