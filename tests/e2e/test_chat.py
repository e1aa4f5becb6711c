"""chat.completions for image models through the official openai SDK, plain and streamed."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.e2e.helpers import png_size_from_b64, png_size_from_url
from tests.e2e.inputs import data_uri, emulator_posts, image_bytes
from tests.servers import Server


def _images(message: Any) -> list[str]:
    extra = message.model_extra or {}
    return [part["image_url"]["url"] for part in extra.get("images") or []]


def test_plain_chat_answers_with_images_and_markdown(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model="qwen-image-2.0", messages=[{"role": "user", "content": "a red fox in snow"}]
    )
    assert answer.object == "chat.completion" and answer.model == "qwen-image-2.0"
    (choice,) = answer.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    (url,) = _images(choice.message)
    assert choice.message.content == f"![image 1]({url})"
    assert png_size_from_url(url)


def test_top_level_size_n_and_image_config(client: openai.OpenAI) -> None:
    # Seed 000's clients: a top-level size; OpenAI's n = one choice per image.
    answer = client.chat.completions.create(
        model="wan2.7-image", messages=[{"role": "user", "content": "p"}], n=2, extra_body={"size": "1792x1024"}
    )
    assert [c.index for c in answer.choices] == [0, 1]
    for choice in answer.choices:
        (url,) = _images(choice.message)
        assert png_size_from_url(url) == (1792, 1024)
    # OpenRouter's modalities and image_config: 16:9 at about 1K.
    answer = client.chat.completions.create(
        model="qwen-image-2.0",
        messages=[
            {"role": "system", "content": "you draw"},
            {"role": "user", "content": [{"type": "text", "text": "p"}]},
        ],
        extra_body={"modalities": ["image", "text"], "image_config": {"aspect_ratio": "16:9", "image_size": "1K"}},
    )
    assert png_size_from_url(_images(answer.choices[0].message)[0]) == (1360, 768)


def test_b64_images_stay_out_of_content(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model="qwen-image-2.0",
        messages=[{"role": "user", "content": "p"}],
        extra_body={"image_config": {"response_format": "b64_json"}, "size": "512x512"},
    )
    message = answer.choices[0].message
    (url,) = _images(message)
    assert url.startswith("data:image/png;base64,") and message.content is None
    assert png_size_from_b64(url.split(",", 1)[1]) == (512, 512)


def test_reference_images_in_the_last_user_message(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    inline = data_uri(image_bytes(800, 600))
    answer = client.chat.completions.create(
        model="qwen-image-edit-plus",
        messages=[
            {"role": "user", "content": "an old message"},
            {"role": "assistant", "content": "ok"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "put the cat"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                    {"type": "text", "text": "on the sofa"},
                    {"type": "image_url", "image_url": {"url": inline, "detail": "high"}},
                ],
            },
        ],
    )
    assert _images(answer.choices[0].message)
    (sent,) = emulator_posts(emulators["cn"].url)
    content = sent["json"]["input"]["messages"][0]["content"]
    assert content[0] == {"image": "https://example.com/cat.png"}
    assert content[1]["image"].startswith("data:image/png;base64,")
    assert content[2] == {"text": "put the cat\non the sofa"}
    assert sent["json"]["parameters"]["size"] == "1184*880"  # the last reference's 4:3


def test_streamed_through_the_sdk_iterator(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="wan2.7-image",
            messages=[{"role": "user", "content": "p"}],
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"size": "1024x1024"},
        )
    )
    role, image, finish, usage = chunks
    assert role.object == "chat.completion.chunk" and role.choices[0].delta.role == "assistant"
    (url,) = _images(image.choices[0].delta)
    assert image.choices[0].delta.content == f"![image 1]({url})"
    assert png_size_from_url(url) == (1024, 1024)
    assert finish.choices[0].finish_reason == "stop"
    assert usage.choices == [] and usage.usage is not None and usage.usage.total_tokens > 0  # wan2.7 reports tokens
    assert len({c.id for c in chunks}) == 1


def test_stream_wire_format(gateway: Server) -> None:
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        timeout=30,
        json={"model": "wanx2.1-t2i-turbo", "messages": [{"role": "user", "content": "p"}], "stream": True},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-gateway-model"] == "wanx2.1-t2i-turbo"
        events = [line for line in response.iter_lines() if line]
    assert events[0].startswith("data: {") and '"role":"assistant"' in events[0]
    assert events[-1] == "data: [DONE]"


def test_error_before_the_stream_is_an_http_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "p"}], stream=True)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="wan2.7-image", messages=[{"role": "user", "content": "p"}], stream=True, extra_body={"size": "big"}
        )
    assert info.value.param == "size"


def test_error_after_the_stream_started_is_an_error_event(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="qwen-image-2.0", messages=[{"role": "user", "content": "p [emu:data-inspection]"}], stream=True
    )
    first = next(iter(stream))
    assert first.choices[0].delta.role == "assistant"
    with pytest.raises(openai.APIError) as info:
        list(stream)
    assert info.value.code == "content_policy_violation"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "wan2.7-image", "messages": [{"role": "system", "content": "x"}]}, "messages"),
        ({"model": "wan2.7-image", "messages": [{"role": "user", "content": "  "}]}, "messages"),
        (
            {"model": "wan2.7-image", "messages": [{"role": "user", "content": "p"}], "modalities": ["text"]},
            "modalities",
        ),
        ({"model": "wan2.7-image", "messages": [{"role": "user", "content": "p"}], "n": 11}, "n"),
        (
            {
                "model": "wan2.7-image",
                "messages": [{"role": "user", "content": "p"}],
                "image_config": {"aspect_ratio": "wide"},
            },
            "image_config",
        ),
        ({"model": "qwen-image-edit-plus", "messages": [{"role": "user", "content": "p"}]}, "messages"),
        (
            {
                "model": "wanx-v1",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "p"},
                            {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                        ],
                    }
                ],
            },
            "model",
        ),
        (
            {
                "model": "wan2.7-image",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "p"},
                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                        ],
                    }
                ],
            },
            "messages",
        ),
        ({"model": "wan2.7-image"}, "messages"),
    ],
)
def test_bad_chat_requests_are_400s_naming_the_field(client: openai.OpenAI, body: dict[str, Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/chat/completions", body=body, cast_to=openai.types.chat.ChatCompletion)
    assert info.value.param == param, info.value.body
