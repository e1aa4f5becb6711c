"""A dashscope provider with compat_images: qwen-image-3.0 through DashScope's OpenAI-compatible image endpoint."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import GatewayFactory, Keys, openai_client
from tests.e2e.inputs import emulator_posts, upload
from tests.servers import Server

COMPAT = "/compatible-mode/v1/images/generations"


@pytest.fixture(scope="module")
def client(gateway_factory: GatewayFactory, emulators: dict[str, Server]) -> openai.OpenAI:
    config = f"""
default_provider: workspace
default_model: qwen-image-3.0
providers:
  workspace:
    kind: dashscope
    region: cn
    base_url: "{emulators["cn"].url}"
    api_key: "{Keys.cn}"
    compat_images: true
"""
    return openai_client(gateway_factory(config))


def test_generations_and_edits_take_the_compatible_endpoint(client: openai.OpenAI, cn: Server) -> None:
    result = client.images.generate(
        model="qwen-image-3.0", prompt="a harbour", response_format="b64_json", extra_body={"seed": 5}
    )
    assert result.data and result.data[0].b64_json and result.size == "1328x1328"
    edited = client.images.edit(
        model="qwen-image-3.0-pro", image=[upload(800, 600), upload(600, 800)], prompt="one room", n=2
    )
    assert edited.data is not None and len(edited.data) == 2
    generated, edit = emulator_posts(cn.url)
    assert generated["path"] == edit["path"] == COMPAT
    assert generated["json"] == {
        "model": "qwen-image-3.0",
        "prompt": "a harbour",
        "n": 1,
        "size": "1328x1328",
        "seed": 5,
    }
    assert isinstance(edit["json"]["image"], list) and len(edit["json"]["image"]) == 2 and edit["json"]["n"] == 2


def test_other_models_keep_the_native_endpoint(client: openai.OpenAI, cn: Server) -> None:
    client.images.generate(model="wan2.7-image", prompt="p")
    (sent,) = emulator_posts(cn.url)
    assert sent["path"].endswith("/multimodal-generation/generation")


def test_its_errors_are_openai_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="qwen-image-3.0", prompt="p [emu:data-inspection]")
    assert info.value.code == "content_policy_violation"


def test_public_hosts_have_no_compatible_endpoint(gateway_factory: GatewayFactory) -> None:
    with pytest.raises(RuntimeError) as failed:
        gateway_factory(
            "providers:\n  sg: {kind: dashscope, region: intl, api_key: sk-x, compat_images: true}\n"
            "default_provider: sg\n"
        )
    assert "compat_images needs a workspace host" in str(failed.value)


def test_hong_kong_has_no_compatible_endpoint(gateway_factory: GatewayFactory) -> None:
    with pytest.raises(RuntimeError) as failed:
        hk = "hk: {kind: dashscope, region: hk, api_key: sk-x, compat_images: true}"
        gateway_factory(f"providers:\n  {hk}\ndefault_provider: hk\n")
    assert "Hong Kong serves no OpenAI-compatible image endpoint" in str(failed.value)
