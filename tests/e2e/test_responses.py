"""``/v1/responses`` through the official openai SDK: the image tool answered here, text models proxied."""

from __future__ import annotations

import base64
import io

import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import GatewayFactory, openai_client
from tests.e2e.helpers import png_size_from_b64
from tests.e2e.inputs import data_uri, emulator_posts, image_bytes
from tests.servers import Server

CONFIG = """
default_model: wan2.7-image
default_provider: dashscope
providers:
  dashscope: {kind: dashscope, region: cn, base_url: "${DASHSCOPE_BASE_URL}", api_key: "${DASHSCOPE_API_KEY}"}
  bailian:
    kind: openai-compatible
    base_url: "${DASHSCOPE_BASE_URL}/compatible-mode/v1"
    api_key: "${DASHSCOPE_API_KEY}"
    chat_models: [qwen-plus]
routes:
  qwen-plus: {targets: [{provider: bailian}]}
upstream: {deadline_seconds: 30, backoff_initial: 0.05, backoff_max: 0.2, poll_initial: 0.05, poll_max: 0.2}
"""
TOOL = {"type": "image_generation", "size": "1024x1024"}


@pytest.fixture(scope="module")
def gateway(gateway_factory: GatewayFactory) -> Server:
    return gateway_factory(CONFIG)


@pytest.fixture(scope="module")
def client(gateway: Server) -> openai.OpenAI:
    return openai_client(gateway)


def _calls(response: object) -> list:  # type: ignore[type-arg]
    return [item for item in response.output if item.type == "image_generation_call"]  # type: ignore[attr-defined]


def test_the_image_tool_makes_an_image(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4.1", input="a lighthouse at dusk", tools=[TOOL])  # type: ignore[list-item]
    assert response.object == "response" and response.id.startswith("resp_") and response.status == "completed"
    assert response.model == "gpt-4.1"
    (call,) = _calls(response)
    assert call.id.startswith("ig_") and call.status == "completed"
    assert png_size_from_b64(call.result) == (1024, 1024)
    assert (call.size, call.output_format, call.background) == ("1024x1024", "png", "opaque")
    assert response.usage is not None


def test_an_image_model_needs_no_tool_and_options_apply(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    tool = {"type": "image_generation", "model": "qwen-image-2.0", "output_format": "webp", "n": 2}
    response = client.responses.create(
        model="gpt-image-1",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "a red fox"}]}],
        tools=[tool],  # type: ignore[list-item]
    )
    calls = _calls(response)
    assert len(calls) == 2 and len({c.id for c in calls}) == 2
    with Image.open(io.BytesIO(base64.b64decode(calls[0].result))) as image:
        assert image.format == "WEBP"
    # The request's own model (an image model) makes the image; the tool's model is for text models.
    assert {post["json"]["model"] for post in emulator_posts(emulators["cn"].url)} == {"wan2.7-image-pro"}


def test_input_images_make_it_an_edit(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    picture = data_uri(image_bytes(640, 480))
    content = [{"type": "input_text", "text": "make it blue"}, {"type": "input_image", "image_url": picture}]
    response = client.responses.create(
        model="gpt-4.1-mini",
        input=[{"role": "user", "content": content}],  # type: ignore[list-item,typeddict-item]
        tools=[{"type": "image_generation", "model": "wan2.7-image"}],
    )
    (call,) = _calls(response)
    assert call.action == "edit" and call.result
    (sent,) = emulator_posts(emulators["cn"].url)
    assert any("image" in part for part in sent["json"]["input"]["messages"][0]["content"])


def test_the_event_stream(client: openai.OpenAI) -> None:
    stream = client.responses.create(model="gpt-4.1", input="a fox", tools=[TOOL], stream=True)  # type: ignore[list-item]
    events = list(stream)
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.image_generation_call.in_progress",
        "response.image_generation_call.generating",
        "response.image_generation_call.completed",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1].response  # type: ignore[union-attr]
    (call,) = _calls(final)
    assert png_size_from_b64(call.result) == (1024, 1024)


def test_the_stream_helper_parses_every_event(client: openai.OpenAI) -> None:
    with client.responses.stream(model="gpt-4.1", input="a fox", tools=[TOOL]) as stream:  # type: ignore[list-item]
        types = [e.type for e in stream]
        final = stream.get_final_response()
    assert types[-1] == "response.completed"
    (call,) = _calls(final)
    assert call.result


def test_text_models_are_proxied_plain_and_streamed(client: openai.OpenAI) -> None:
    response = client.responses.create(model="qwen-plus", input="hello there")
    assert response.output_text == "hello there"
    streamed = client.responses.create(model="qwen-plus", input="hello there", stream=True)
    deltas = [e.delta for e in streamed if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "hello there"


def test_what_cannot_be_served_is_a_clear_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="gpt-4.1", input="just text")
    assert missing.value.code == "model_not_found" and missing.value.param == "model"
    with pytest.raises(openai.BadRequestError) as bad_tool:
        client.responses.create(model="gpt-4.1", input="p", tools=[{"type": "image_generation", "quality": "ultra"}])  # type: ignore[list-item,typeddict-item]
    assert bad_tool.value.param is not None and bad_tool.value.param.startswith("tools")
    with pytest.raises(openai.BadRequestError) as transparent:
        client.responses.create(
            model="gpt-4.1",
            input="p",
            tools=[{"type": "image_generation", "background": "transparent"}],
        )
    assert transparent.value.param == "background"
    with pytest.raises(openai.BadRequestError) as empty:
        client.responses.create(model="gpt-4.1", input=[], tools=[TOOL])  # type: ignore[list-item]
    assert empty.value.param == "input"


def test_an_upstream_failure_mid_stream_is_an_error_event(client: openai.OpenAI) -> None:
    stream = client.responses.create(
        model="gpt-4.1",
        input="p [emu:data-inspection]",
        tools=[TOOL],  # type: ignore[list-item]
        stream=True,
    )
    with pytest.raises(openai.APIError):
        list(stream)


def test_a_partial_set_closes_every_announced_item(client: openai.OpenAI) -> None:
    tool = {"type": "image_generation", "model": "wan2.7-image", "n": 2}
    with client.responses.stream(model="gpt-4.1", input="p [emu:partial]", tools=[tool]) as stream:  # type: ignore[list-item]
        events = [e.type for e in stream]
        final = stream.get_final_response()
    statuses = [item.status for item in _calls(final)]
    assert statuses == ["completed", "failed"], statuses
    assert events.count("response.output_item.done") == 2


def test_earlier_turns_are_edited_and_stored_state_is_refused(
    client: openai.OpenAI, emulators: dict[str, Server]
) -> None:
    first = client.responses.create(model="gpt-4.1", input="a lighthouse", tools=[TOOL])  # type: ignore[list-item]
    (call,) = _calls(first)
    with pytest.raises(openai.BadRequestError) as stored:
        client.responses.create(model="gpt-4.1", previous_response_id=first.id, input="now blue", tools=[TOOL])  # type: ignore[list-item]
    assert stored.value.param == "previous_response_id"
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    turn = [
        {"type": "image_generation_call", "id": call.id, "status": "completed", "result": call.result},
        {"role": "user", "content": "now make it blue"},
    ]
    second = client.responses.create(
        model="gpt-4.1",
        input=turn,  # type: ignore[arg-type]
        tools=[{"type": "image_generation", "model": "wan2.7-image"}],
    )
    assert _calls(second)[0].action == "edit"
    (sent,) = emulator_posts(emulators["cn"].url)
    assert any("image" in part for part in sent["json"]["input"]["messages"][0]["content"])
    with pytest.raises(openai.BadRequestError) as id_only:
        client.responses.create(
            model="gpt-4.1",
            input=[{"type": "image_generation_call", "id": call.id}, {"role": "user", "content": "blue"}],  # type: ignore[list-item,typeddict-item]
            tools=[TOOL],  # type: ignore[list-item]
        )
    assert id_only.value.param == "input"


def test_the_tools_mask_is_inpainted(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    from tests.e2e.test_masks import openai_mask

    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    content = [
        {"type": "input_text", "text": "a balloon here"},
        {"type": "input_image", "image_url": data_uri(image_bytes(1024, 768))},
    ]
    tool = {"type": "image_generation", "input_image_mask": {"image_url": data_uri(openai_mask(1024, 768))}}
    response = client.responses.create(
        model="gpt-4.1",
        input=[{"role": "user", "content": content}],  # type: ignore[list-item,typeddict-item]
        tools=[tool],  # type: ignore[list-item]
    )
    assert _calls(response)[0].result
    (sent,) = emulator_posts(emulators["cn"].url)
    assert sent["json"]["model"] == "wanx2.1-imageedit" and "mask_image_url" in sent["json"]["input"]


def test_the_tool_decides_for_text_models_and_when_no_model_is_named(
    client: openai.OpenAI, emulators: dict[str, Server]
) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    served_text_model = client.responses.create(model="qwen-plus", input="a fox", tools=[TOOL])  # type: ignore[list-item]
    assert _calls(served_text_model) and served_text_model.model == "qwen-plus"
    unnamed = client.responses.create(input="a fox", tools=[{"type": "image_generation", "model": "qwen-image-2.0"}])  # type: ignore[call-overload,list-item]
    assert _calls(unnamed)
    models = [p["json"]["model"] for p in emulator_posts(emulators["cn"].url)]
    assert models == ["wan2.7-image-pro", "qwen-image-2.0"]
    with pytest.raises(openai.BadRequestError) as too_many:
        client.responses.create(model="gpt-4.1", input="p", tools=[{"type": "image_generation", "n": 11}])  # type: ignore[list-item,typeddict-item]
    assert too_many.value.param == "tools.n"
