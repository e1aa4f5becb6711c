"""Image chat without a server: request fields -> sizes, messages -> prompt, the SSE event sequence."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from gateway.routes.chat import image_chat_events
from gateway.routes.models import capabilities
from gateway.service.chat_images import ChatJob, Reply, _last_user, message_content
from gateway.service.images import Served
from gateway.service.specs import auto_size, check_n, image_config_size, size_for
from gateway.wire.chat import InMessage
from gateway.wire.images import ImageData, ImagesResponse, ImagesUsage
from providers.base import ModelInfo
from providers.errors import ContentPolicyViolation, InvalidRequest

WAN27 = ModelInfo(
    "wan2.7-image",
    "wan2.7-image",
    4,
    ("sync", "async"),
    "rule",
    images=(0, 9),
    auto_size="token",
    size_tokens=("1K", "2K"),
)
QWEN_EDIT = ModelInfo("qwen-image-edit-plus", "q", 6, ("sync",), "rule", images=(1, 3), auto_size="ratio")
FIXED = ModelInfo("qwen-image-edit", "q", 1, ("sync",), "rule", images=(1, 3), auto_size="omit")


@pytest.mark.parametrize(
    ("info", "quality", "last", "expected"),
    [
        (WAN27, None, (1200, 800), None),
        (WAN27, "high", (1200, 800), "2K"),
        (WAN27, "low", None, "1K"),
        (WAN27, "auto", None, None),
        (QWEN_EDIT, None, (1200, 800), "1248x832"),
        (QWEN_EDIT, "hd", (1200, 800), "2512x1680"),
        (QWEN_EDIT, None, None, None),
        (FIXED, "high", (1200, 800), None),
    ],
)
def test_auto_size_with_input_images(info: ModelInfo, quality: str | None, last: Any, expected: str | None) -> None:
    assert auto_size(info, quality, last) == expected


def test_sizes_from_ratios_and_image_config() -> None:
    assert size_for(16, 9, "1K") == "1360x768"
    assert size_for(1, 1, "2K") == "2048x2048"
    assert image_config_size("16:9", None) == "1360x768"
    assert image_config_size("9:16", "2k") == "1536x2736"
    assert image_config_size(None, "4K") == "4K"
    assert image_config_size(None, None) is None
    for ratio, size in (("wide", None), ("0:1", None), (None, "8K")):
        with pytest.raises(InvalidRequest) as info:
            image_config_size(ratio, size)
        assert info.value.param == "image_config"


def test_n_bounds() -> None:
    assert check_n(None) == 1 and check_n(10) == 10
    with pytest.raises(InvalidRequest):
        check_n(0)


def test_the_last_user_message_is_the_prompt_and_its_images_the_references() -> None:
    messages = [
        InMessage("user", "old"),
        InMessage("assistant", "ok"),
        InMessage(
            "user",
            [
                {"type": "text", "text": "a"},
                {"type": "image_url", "image_url": "https://x/1.png"},
                {"type": "input_audio", "input_audio": {}},
                {"type": "text", "text": "b"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
            ],
        ),
        InMessage("system", "s"),
    ]
    prompt, refs = message_content(_last_user(messages).content)
    assert prompt == "a\nb"
    assert [r.uri for r in refs] == ["https://x/1.png", "data:image/png;base64,AA"]
    with pytest.raises(InvalidRequest):
        message_content([{"type": "image_url", "image_url": 5}])
    with pytest.raises(InvalidRequest):
        _last_user([InMessage("system", "s")])


def test_capabilities_of_a_chat_model() -> None:
    caps = capabilities(ModelInfo("qwen-plus", "qwen-plus", 10, ("sync",), "", kind="chat"))
    assert (caps.type, caps.generations, caps.edits, caps.max_input_images) == ("chat", False, False, 0)


def _job(n: int = 1, usage: bool = False) -> ChatJob:
    return ChatJob(n, True, usage)


def _served(*urls: str) -> Served:
    response = ImagesResponse(created=1, data=[ImageData(url=u) for u in urls], usage=ImagesUsage(1, 2, 3))
    return Served(response, None)  # type: ignore[arg-type]


async def _collect(events: Any) -> list[bytes]:
    return [chunk async for chunk in events]


def _payloads(chunks: list[bytes]) -> list[Any]:
    return [msgspec.json.decode(c[6:]) for c in chunks if c.startswith(b"data: {")]


def test_stream_keepalives_then_images_then_done() -> None:
    async def slow() -> Served:
        await asyncio.sleep(0.35)
        return _served("https://x/1.png", "https://x/2.png")

    chunks = asyncio.run(_collect(image_chat_events(slow, Reply("id", 1, "m"), _job(2, usage=True), keepalive=0.1)))
    assert chunks.count(b": keep-alive\n\n") >= 2
    assert chunks[-1] == b"data: [DONE]\n\n"
    payloads = _payloads(chunks)
    assert [p["choices"][0]["delta"].get("role") for p in payloads[:2]] == ["assistant", "assistant"]
    images = [p for p in payloads if p["choices"] and "images" in p["choices"][0]["delta"]]
    assert [p["choices"][0]["delta"]["content"] for p in images] == [
        "![image 1](https://x/1.png)",
        "![image 2](https://x/2.png)",
    ]
    finishes = [p["choices"][0]["index"] for p in payloads if p["choices"] and p["choices"][0]["finish_reason"]]
    assert finishes == [0, 1]
    assert payloads[-1]["choices"] == [] and payloads[-1]["usage"]["total_tokens"] == 3


def test_stream_error_after_the_start_is_an_error_event_and_the_end() -> None:
    async def failing() -> Served:
        raise ContentPolicyViolation("nope", param=None)

    chunks = asyncio.run(_collect(image_chat_events(failing, Reply("id", 1, "m"), _job(), keepalive=0.1)))
    assert b"[DONE]" not in chunks[-1]
    error = msgspec.json.decode(chunks[-1][6:])["error"]
    assert (error["code"], error["message"], error["type"]) == (
        "content_policy_violation",
        "nope",
        "invalid_request_error",
    )


def test_a_client_leaving_cancels_the_image_work() -> None:
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def forever() -> Served:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        raise AssertionError

    async def leave() -> None:
        events = image_chat_events(forever, Reply("id", 1, "m"), _job(), keepalive=0.05)
        consumer = asyncio.ensure_future(_collect(events))
        await started.wait()
        await asyncio.sleep(0.1)
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer
        await asyncio.sleep(0)

    asyncio.run(leave())
    assert cancelled == [True]
