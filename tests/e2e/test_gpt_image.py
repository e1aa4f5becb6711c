"""GPT-image answers and image streaming through the official openai SDK -> gateway -> DashScope emulator."""

from __future__ import annotations

import base64
import io
import time

import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import GatewayFactory, openai_client
from tests.e2e.helpers import png_size_from_b64
from tests.e2e.inputs import emulator_posts, upload
from tests.servers import Server

GPT_NAMES = [
    "gpt-image-1",
    "gpt-image-1-mini",
    "gpt-image-1.5",
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "chatgpt-image-latest",
]


@pytest.fixture(scope="module")
def client(gateway: Server) -> openai.OpenAI:
    return openai_client(gateway)


def _format(b64: str) -> str:
    with Image.open(io.BytesIO(base64.b64decode(b64))) as image:
        image.load()
        return str(image.format)


@pytest.mark.parametrize("model", GPT_NAMES)
def test_gpt_image_names_answer_as_gpt_image_models_do(client: openai.OpenAI, model: str) -> None:
    result = client.images.generate(model=model, prompt="a red fox", size="1024x1024")
    assert result.data is not None and len(result.data) == 1
    image = result.data[0]
    assert image.url is None and image.b64_json is not None
    assert png_size_from_b64(image.b64_json) == (1024, 1024)
    assert (result.size, result.output_format, result.background) == ("1024x1024", "png", "opaque")
    assert result.quality == "medium"


def test_usage_in_openai_shape(client: openai.OpenAI) -> None:
    result = client.images.generate(model="gpt-image-1-mini", prompt="a red fox")  # wan2.7-image reports tokens
    assert result.usage is not None and result.usage.total_tokens > 0
    assert result.usage.input_tokens_details.text_tokens == result.usage.input_tokens


def test_dall_e_names_keep_url_answers(client: openai.OpenAI) -> None:
    result = client.images.generate(model="dall-e-3", prompt="p")
    assert result.data and result.data[0].url and result.data[0].b64_json is None
    assert result.output_format is None and result.background is None


def test_an_explicit_url_is_honoured_for_gpt_names(client: openai.OpenAI) -> None:
    result = client.images.generate(model="gpt-image-1", prompt="p", response_format="url")
    assert result.data and result.data[0].url and result.data[0].b64_json is None


@pytest.mark.parametrize(("fmt", "pillow"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_output_format_is_the_file_format(client: openai.OpenAI, fmt: str, pillow: str) -> None:
    # A GPT-image parameter on a non-GPT name is a GPT-image request too: b64_json.
    result = client.images.generate(model="qwen-image-2.0", prompt="p", output_format=fmt)  # type: ignore[arg-type]
    assert result.data and result.data[0].b64_json
    assert _format(result.data[0].b64_json) == pillow and result.output_format == fmt


def test_output_compression_compresses(client: openai.OpenAI) -> None:
    sizes = []
    for compression in (100, 10):
        result = client.images.generate(
            model="gpt-image-1", prompt="noise", output_format="jpeg", output_compression=compression
        )
        assert result.data and result.data[0].b64_json
        sizes.append(len(base64.b64decode(result.data[0].b64_json)))
    assert sizes[1] < sizes[0]


def test_a_format_a_url_cannot_have_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="gpt-image-1", prompt="p", response_format="url", output_format="webp")
    assert info.value.param == "output_format"


def test_transparent_background_is_refused_by_name(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="gpt-image-1", prompt="p", background="transparent")
    assert info.value.param == "background" and info.value.code == "unsupported_parameter"
    assert emulator_posts(emulators["cn"].url) == []
    for accepted in ("opaque", "auto"):
        result = client.images.generate(model="gpt-image-1", prompt="p", background=accepted)  # type: ignore[arg-type]
        assert result.background == "opaque"


def test_quality_picks_the_resolution_token(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    high = client.images.generate(model="gpt-image-1-mini", prompt="p", quality="high")
    low = client.images.generate(model="gpt-image-1-mini", prompt="p", quality="low")
    sent = [post["json"]["parameters"].get("size") for post in emulator_posts(emulators["cn"].url)]
    assert sent == ["2K", "1K"]
    assert (high.quality, low.quality) == ("high", "low")


def test_options_without_a_dashscope_equivalent_are_accepted(client: openai.OpenAI) -> None:
    generated = client.images.generate(model="gpt-image-1", prompt="p", moderation="low")
    edited = client.images.edit(model="gpt-image-1", prompt="p", image=upload(512, 512), input_fidelity="high")
    assert generated.data and generated.data[0].b64_json and edited.data and edited.data[0].b64_json


def test_generation_stream(client: openai.OpenAI) -> None:
    stream = client.images.generate(model="gpt-image-1", prompt="a fox", n=2, size="1024x1024", stream=True)
    events = list(stream)
    assert [e.type for e in events] == ["image_generation.completed"] * 2
    for e in events:
        assert e.type == "image_generation.completed"
        assert png_size_from_b64(e.b64_json) == (1024, 1024)
        assert (e.size, e.output_format, e.background) == ("1024x1024", "png", "opaque")
        assert e.created_at > 0 and e.quality == "medium"


def test_partial_images_are_accepted_and_never_faked(client: openai.OpenAI) -> None:
    stream = client.images.generate(model="gpt-image-1", prompt="a fox", stream=True, partial_images=2)
    assert [e.type for e in stream] == ["image_generation.completed"]


def test_edit_stream_from_multipart(client: openai.OpenAI) -> None:
    stream = client.images.edit(
        model="gpt-image-1", prompt="make it blue", image=upload(640, 480), stream=True, output_format="webp"
    )
    events = list(stream)
    assert [e.type for e in events] == ["image_edit.completed"]
    assert events[0].type == "image_edit.completed" and _format(events[0].b64_json) == "WEBP"


def test_a_bad_stream_request_is_an_http_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="gpt-image-1", prompt="p", size="banana", stream=True)
    assert info.value.param == "size"


def test_an_upstream_failure_mid_stream_is_an_error_event(client: openai.OpenAI) -> None:
    stream = client.images.generate(model="gpt-image-1", prompt="p [emu:data-inspection]", stream=True)
    with pytest.raises(openai.APIError) as info:
        list(stream)
    assert "inspection" in info.value.message.lower() or info.value.code == "content_policy_violation"


def test_streams_count_and_a_departed_client_stops_the_work(
    gateway_factory: GatewayFactory, emulators: dict[str, Server]
) -> None:
    from tests.e2e.test_platform import metric

    gateway = gateway_factory()  # a gateway of its own: its metrics count only this test
    client = openai_client(gateway)
    list(client.images.generate(model="gpt-image-1", prompt="counted", stream=True))
    labels = {"route": "/v1/images/generations", "model": "wan2.7-image-pro", "status": "200"}
    assert metric(gateway, "gateway_requests_total", **labels) == 1
    images = {"provider": "dashscope", "model": "wan2.7-image-pro"}
    assert metric(gateway, "gateway_images_generated_total", **images) == 1

    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    body = {"model": "wanx2.1-t2i-turbo", "prompt": "slow [emu:latency=4]", "stream": True}
    with httpx.stream("POST", gateway.url + "/v1/images/generations", json=body, timeout=30) as response:
        assert response.status_code == 200
        time.sleep(0.8)  # submitted, and polling
    # The client is gone: the task's polling stops within a poll interval or two.
    time.sleep(0.6)
    polls = _polls(emulators["cn"])
    assert polls >= 1
    time.sleep(1.5)
    assert _polls(emulators["cn"]) == polls


def _polls(emulator: Server) -> int:
    log = httpx.get(emulator.url + "/__emulator__/requests", timeout=30).json()
    return sum(1 for r in log if r["method"] == "GET" and "/tasks/" in r["path"])


def test_a_job_answers_as_the_request_would_have(gateway: Server) -> None:
    body = {"model": "gpt-image-1", "prompt": "p", "output_format": "webp"}
    submitted = httpx.post(gateway.url + "/v1/images/generations", json=body, headers={"prefer": "respond-async"})
    assert submitted.status_code == 202
    deadline = time.monotonic() + 30
    while (job := httpx.get(gateway.url + submitted.headers["location"]).json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job["status"] == "succeeded" and job["output_format"] == "webp" and job["background"] == "opaque"
    assert _format(job["data"][0]["b64_json"]) == "WEBP"
