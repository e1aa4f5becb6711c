"""The OpenAI-compatible routes under ``/compatible-mode/v1``."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Stream

from .errors import EmuError
from .models import REGION_MODELS, TEXT_MODELS
from .native import admit_sync, generate
from .plan import successes
from .replies import JSON, request_id_of
from .responses import sync_usage
from .rules import Endpoint
from .state import Emulator, emulator
from .validation import Call, validate

AnyRequest = Request[Any, Any, Any]
PREFIX = "/compatible-mode/v1"
_CREATED = 1_700_000_000
_CHUNK = "chat.completion.chunk"
# Native codes as compatible mode spells them.
_CODES = {
    "InvalidParameter": "invalid_parameter_error",
    "InvalidApiKey": "invalid_api_key",
    "DataInspectionFailed": "data_inspection_failed",
    "AccessDenied": "access_denied",
    "ModelNotFound": "model_not_found",
    "Throttling": "throttling",
    "Throttling.RateQuota": "limit_requests",
    "Throttling.BurstRate": "limit_burst_rate",
    "Throttling.AllocationQuota": "insufficient_quota",
    "InternalError": "internal_error",
}


class CompatError(Exception):
    def __init__(self, status: int, code: str, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.kind = status, code, message, kind

    @classmethod
    def from_native(cls, err: EmuError) -> CompatError:
        if err.code == "InvalidApiKey":
            return cls(
                401,
                "invalid_api_key",
                "Incorrect API key provided. For details, see: "
                "https://help.aliyun.com/zh/model-studio/error-code#apikey-error",
            )
        kind = "invalid_request_error" if err.status < 500 else "internal_error"
        return cls(err.status if err.status >= 400 else 500, _CODES.get(err.code, err.code), err.message, kind)

    @classmethod
    def keeping_code(cls, err: EmuError) -> CompatError:
        """qwen-image-3.0's compatible endpoint keeps the native codes (its page: "code": "InvalidParameter")."""
        kind = "invalid_request_error" if err.status < 500 else "internal_error"
        return cls(err.status if err.status >= 400 else 500, err.code, err.message, kind)


class ErrorDetail(msgspec.Struct):
    message: str
    type: str
    param: None
    code: str


class ErrorEnvelope(msgspec.Struct):
    error: ErrorDetail
    request_id: str


class ModelCard(msgspec.Struct):
    id: str
    object: str
    created: int
    owned_by: str


class ChatUsage(msgspec.Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Delta(msgspec.Struct, omit_defaults=True):
    role: str | None = None
    content: str | None = None


class ChunkChoice(msgspec.Struct):
    index: int
    delta: Delta
    finish_reason: str | None
    logprobs: None = None


class ChatChunk(msgspec.Struct, omit_defaults=True):
    id: str
    object: str
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: ChatUsage | None = None


def compat_error_reply(err: CompatError, request_id: str) -> Response[bytes]:
    body = ErrorEnvelope(ErrorDetail(err.message, err.kind, None, err.code), request_id)
    return Response(msgspec.json.encode(body), status_code=err.status, media_type=JSON)


def _ok(body: Any) -> Response[bytes]:
    return Response(msgspec.json.encode(body), status_code=200, media_type=JSON)


def _auth(emu: Emulator, request: AnyRequest) -> str:
    try:
        return emu.authenticate(request)
    except EmuError as err:
        raise CompatError.from_native(err) from None


async def _body(request: AnyRequest) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        raise CompatError(400, "invalid_parameter_error", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise CompatError(400, "invalid_parameter_error", "The request body must be a JSON object.")
    return data


@get(f"{PREFIX}/models")
async def list_models(request: AnyRequest) -> Response[bytes]:
    emu = emulator(request)
    _auth(emu, request)
    names = [*sorted(REGION_MODELS[emu.config.region]), *TEXT_MODELS]
    return _ok({"object": "list", "data": [ModelCard(n, "model", _CREATED, "system") for n in names]})


def _last_user_text(messages: Any) -> str:
    if not isinstance(messages, list) or not messages:
        raise CompatError(400, "invalid_parameter_error", "messages must be a non-empty list.")
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    raise CompatError(400, "invalid_parameter_error", "messages must contain a user message.")


def _text_model(emu: Emulator, data: dict[str, Any]) -> str:
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise CompatError(400, "invalid_parameter_error", "model is required.")
    if model in REGION_MODELS[emu.config.region]:
        raise CompatError(404, "model_not_supported", f"Unsupported model `{model}` for OpenAI compatibility mode")
    if model not in TEXT_MODELS:
        raise CompatError(
            404, "model_not_found", f"The model `{model}` does not exist or you do not have access to it."
        )
    return model


@post(f"{PREFIX}/responses", status_code=200)
async def responses(request: AnyRequest) -> Response[Any]:
    """The Responses API for text models: the last user text echoed back as output_text."""
    emu = emulator(request)
    _auth(emu, request)
    data = await _body(request)
    model = _text_model(emu, data)
    given = data.get("input")
    text = given if isinstance(given, str) else _last_user_text(given)
    words = len(text.split())
    reply = {
        "id": f"resp_{uuid.uuid4().hex}",
        "object": "response",
        "created_at": int(emu.clock.now()),
        "status": "completed",
        "model": model,
        "output": [
            {
                "type": "message",
                "id": f"msg_{uuid.uuid4().hex}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": words + 8,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": words,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 2 * words + 8,
        },
    }
    if data.get("stream") is not True:
        return _ok(reply)
    return Stream(_response_events(reply, text), media_type="text/event-stream")


async def _response_events(reply: dict[str, Any], text: str) -> AsyncIterator[bytes]:
    def sse(payload: dict[str, Any]) -> bytes:
        return f"event: {payload['type']}\n".encode() + b"data: " + msgspec.json.encode(payload) + b"\n\n"

    item = reply["output"][0]
    pending = {**reply, "status": "in_progress", "output": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "content": []}},
    ]
    events += [
        {"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0, "content_index": 0, "delta": p}
        for p in re.findall(r"\S+\s*|\s+", text)
    ]
    events += [
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": reply},
    ]
    for number, payload in enumerate(events):
        yield sse({**payload, "sequence_number": number})


@post(f"{PREFIX}/chat/completions", status_code=200)
async def chat_completions(request: AnyRequest) -> Response[Any]:
    emu = emulator(request)
    _auth(emu, request)
    data = await _body(request)
    model = _text_model(emu, data)
    text = _last_user_text(data.get("messages"))
    usage = ChatUsage(len(text.split()) + 8, max(1, len(text.split())), len(text.split()) * 2 + 9)
    chat_id, created = f"chatcmpl-{uuid.uuid4()}", int(emu.clock.now())
    if data.get("stream") is True:
        options = data.get("stream_options")
        with_usage = isinstance(options, dict) and options.get("include_usage") is True
        return Stream(
            _chunks(chat_id, created, model, text, usage if with_usage else None),
            media_type="text/event-stream",
        )
    return _ok(
        {
            "id": chat_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": usage,
            "system_fingerprint": None,
        }
    )


async def _chunks(chat_id: str, created: int, model: str, text: str, usage: ChatUsage | None) -> AsyncIterator[bytes]:
    def chunk(delta: Delta, finish: str | None = None) -> bytes:
        body = ChatChunk(chat_id, _CHUNK, created, model, [ChunkChoice(0, delta, finish)])
        return b"data: " + msgspec.json.encode(body) + b"\n\n"

    yield chunk(Delta(role="assistant", content=""))
    for piece in re.findall(r"\S+\s*|\s+", text):
        yield chunk(Delta(content=piece))
    yield chunk(Delta(), "stop")
    if usage is not None:
        yield (b"data: " + msgspec.json.encode(ChatChunk(chat_id, _CHUNK, created, model, [], usage=usage)) + b"\n\n")
    yield b"data: [DONE]\n\n"


#: The models whose own page documents this endpoint (on workspace hosts).
COMPAT_IMAGE_MODELS = frozenset({"qwen-image-3.0", "qwen-image-3.0-pro"})
_COMPAT_EXTENSIONS = ("negative_prompt", "seed", "prompt_extend", "prompt_extend_mode", "enable_thinking", "watermark")


def _compat_images(data: dict[str, Any]) -> list[Any]:
    if "image" not in data:
        return []
    image = data["image"]
    if image is None or image == []:
        raise CompatError(400, "invalid_request_error", "Field 'image' must not be null or empty.")
    images = image if isinstance(image, list) else [image]
    if not all(isinstance(i, str) for i in images):
        raise CompatError(400, "invalid_request_error", "Field 'image' must be a string or a list of strings.")
    return [{"image": i} for i in images]


@post(f"{PREFIX}/images/generations", status_code=200)
async def images_generations(request: AnyRequest) -> Response[bytes]:
    """qwen-image-3.0's OpenAI-compatible endpoint (``image`` for edits, extensions at the top
    level); for other models only with ``--compat-images`` (QwenCloud style), as dashscope hosts 404 it."""
    emu = emulator(request)
    try:
        peek = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        peek = None
    qwen3 = isinstance(peek, dict) and peek.get("model") in COMPAT_IMAGE_MODELS
    if not emu.config.compat_images and not qwen3:
        raise NotFoundException()
    key = _auth(emu, request)
    data = await _body(request)
    if not isinstance(data.get("prompt"), str) or not data["prompt"]:
        raise CompatError(400, "invalid_request_error", "Field 'prompt' is required")
    n = data.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool):
        raise CompatError(400, "invalid_request_error", "Field 'n' must be an integer.")
    size = data.get("size")
    parameters: dict[str, Any] = {"n": n}
    if isinstance(size, str) and size != "auto":
        parameters["size"] = size.replace("x", "*")
    parameters.update({name: data[name] for name in _COMPAT_EXTENSIONS if name in data})
    content = [*_compat_images(data), {"text": data["prompt"]}]
    native = {
        "model": data.get("model"),
        "input": {"messages": [{"role": "user", "content": content}]},
        "parameters": parameters,
    }
    try:
        emu.stats.sync_calls += 1
        job = validate(msgspec.json.encode(native), Call(Endpoint.MULTIMODAL, emu.config.region))
        admit_sync(emu, job, key)
        slots = await generate(emu, job, request)
    except EmuError as err:
        raise (CompatError.keeping_code(err) if qwen3 else CompatError.from_native(err)) from None
    rid = request_id_of(request.scope)
    links = emu.links(request, rid, emu.clock.now(), job)
    body: dict[str, Any] = {
        "created": int(emu.clock.now()),
        "data": [{"url": links.url(i, s)} for i, s in successes(slots)],
    }
    if qwen3:
        body["usage"] = sync_usage(job, len(successes(slots)))
    return Response(msgspec.json.encode(body), status_code=200, media_type=JSON, headers={"x-request-id": rid})


ROUTES = [list_models, chat_completions, responses, images_generations]
