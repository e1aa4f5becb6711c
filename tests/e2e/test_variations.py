"""``images.create_variation`` through the official openai SDK: DALL-E 2's API on an image-to-image model."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import GatewayFactory, openai_client
from tests.e2e.helpers import png_size_from_b64
from tests.e2e.inputs import emulator_posts, upload
from tests.servers import Server

# The SDK marks create_variation deprecated (DALL-E 2 is retired); apps still call it.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _prompts(emulator: Server) -> list[tuple[str, str]]:
    posts = emulator_posts(emulator.url)
    return [(p["json"]["model"], p["json"]["input"]["messages"][0]["content"][-1]["text"]) for p in posts]


def test_variations_are_urls_by_default(gateway: Server, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    client = openai_client(gateway)
    result = client.images.create_variation(image=upload(512, 512), n=2, size="1024x1024", model="dall-e-2")
    assert result.data is not None and len(result.data) == 2
    assert all(d.url and d.b64_json is None for d in result.data)
    ((model, prompt),) = _prompts(emulators["cn"])
    assert model == "wan2.7-image" and prompt.startswith("Create a variation of this image")


def test_b64_json_and_the_size(gateway: Server) -> None:
    result = openai_client(gateway).images.create_variation(
        image=upload(512, 512), size="1024x1024", response_format="b64_json"
    )
    assert result.data and result.data[0].b64_json
    assert png_size_from_b64(result.data[0].b64_json) == (1024, 1024)


def test_the_input_is_checked_as_for_edits(gateway: Server, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    client = openai_client(gateway)
    with pytest.raises(openai.BadRequestError) as small:
        client.images.create_variation(image=upload(100, 100))
    assert small.value.param == "image" and small.value.code == "invalid_image"
    two = httpx.post(
        gateway.url + "/v1/images/variations", files=[("image", upload(512, 512)), ("image[]", upload(512, 512))]
    )
    assert two.status_code == 400 and two.json()["error"]["param"] == "image"
    with pytest.raises(openai.BadRequestError) as n:
        client.images.create_variation(image=upload(512, 512), n=11)
    assert n.value.param == "n"
    assert emulator_posts(emulators["cn"].url) == []


def test_the_variation_model_is_configurable(gateway_factory: GatewayFactory, emulators: dict[str, Server]) -> None:
    gateway = gateway_factory(extra="variations: {model: qwen-image-edit-plus, prompt: another take}\n")
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    result = openai_client(gateway).images.create_variation(image=upload(512, 512))
    assert result.data and result.data[0].url
    assert _prompts(emulators["cn"]) == [("qwen-image-edit-plus", "another take")]
