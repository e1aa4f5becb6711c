"""qwen-image-3.0 / -pro and z-image-turbo: what their pages say beyond sizes and formats."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import GatewayFactory, openai_client
from tests.e2e.inputs import emulator_posts, upload
from tests.servers import Server


@pytest.fixture(scope="module")
def client(gateway: Server) -> openai.OpenAI:
    return openai_client(gateway)


@pytest.mark.parametrize("model", ["qwen-image-3.0", "qwen-image-3.0-pro"])
def test_qwen3_without_a_size_stays_in_the_1k_tier(client: openai.OpenAI, cn: Server, model: str) -> None:
    result = client.images.generate(model=model, prompt="a lighthouse", response_format="b64_json")
    (sent,) = emulator_posts(cn.url)
    assert sent["json"]["parameters"]["size"] == "1328*1328"  # 1.76 MP: the 1K tier (the default 2048^2 is 2K)
    assert result.size == "1328x1328"


def test_qwen3_edits_and_its_options(client: openai.OpenAI, cn: Server) -> None:
    result = client.images.edit(
        model="qwen-image-3.0",
        image=[upload(800, 600), upload(600, 800)],
        prompt="put both in one room",
        n=2,
        extra_body={"enable_thinking": "false", "prompt_extend_mode": "direct"},
    )
    assert result.data is not None and len(result.data) == 2
    (sent,) = emulator_posts(cn.url)
    assert sent["json"]["parameters"]["enable_thinking"] is False
    assert len([c for c in sent["json"]["input"]["messages"][0]["content"] if "image" in c]) == 2
    with pytest.raises(openai.BadRequestError) as agent:
        client.images.edit(
            model="qwen-image-3.0", image=upload(800, 600), prompt="p", extra_body={"prompt_extend_mode": "agent"}
        )
    assert agent.value.param == "prompt_extend_mode"
    generated = client.images.generate(model="qwen-image-3.0", prompt="p", extra_body={"prompt_extend_mode": "agent"})
    assert generated.data


def test_z_image_fans_out_and_returns_the_rewritten_prompt(client: openai.OpenAI, cn: Server) -> None:
    plain = client.images.generate(model="z-image-turbo", prompt="a fox", n=3)
    assert plain.data is not None and len(plain.data) == 3
    assert len(emulator_posts(cn.url)) == 3  # n is 1 per call
    assert all(d.revised_prompt is None for d in plain.data)
    extended = client.images.generate(model="z-image-turbo", prompt="a fox", extra_body={"prompt_extend": True})
    assert extended.data and extended.data[0].revised_prompt
    assert extended.data[0].revised_prompt.startswith("a fox") and extended.data[0].revised_prompt != "a fox"
    with pytest.raises(openai.BadRequestError) as negative:
        client.images.generate(model="z-image-turbo", prompt="p", extra_body={"negative_prompt": "blur"})
    assert negative.value.param == "negative_prompt"
    with pytest.raises(openai.BadRequestError) as edit:
        client.images.edit(model="z-image-turbo", image=upload(800, 600), prompt="p")
    assert edit.value.param == "model"


def test_costs_follow_what_was_billed(gateway_factory: GatewayFactory) -> None:
    from tests.e2e.test_platform import metric

    gateway = gateway_factory()  # its own: the counter counts only this test
    client = openai_client(gateway)
    labels = {"provider": "dashscope", "model": "qwen-image-3.0-pro", "currency": "CNY"}
    client.images.generate(model="qwen-image-3.0-pro", prompt="p")  # no size: 1328^2, the 1K tier
    assert metric(gateway, "gateway_estimated_cost_total", **labels) == pytest.approx(0.25)
    client.images.generate(model="qwen-image-3.0-pro", prompt="p", size="2048x2048")  # the 2K tier
    assert metric(gateway, "gateway_estimated_cost_total", **labels) == pytest.approx(0.75)
    client.images.edit(model="qwen-image-3.0-pro", image=[upload(800, 600), upload(800, 600)], prompt="p")
    # The edit's output tier as reported, plus 0.02 per input image.
    assert metric(gateway, "gateway_estimated_cost_total", **labels) in (
        pytest.approx(0.75 + 0.25 + 0.04),
        pytest.approx(0.75 + 0.50 + 0.04),
    )
    client.images.edit(model="wanx2.1-imageedit", image=upload(640, 640), prompt="p")  # a documented price
    assert metric(gateway, "gateway_estimated_cost_total", model="wanx2.1-imageedit") == pytest.approx(0.14)


def test_images_billed_count_even_when_their_download_fails(gateway_factory: GatewayFactory) -> None:
    from tests.e2e.test_platform import metric

    gateway = gateway_factory()
    client = openai_client(gateway)
    with pytest.raises(openai.InternalServerError):
        client.images.generate(model="wan2.7-image", prompt="p [emu:broken-url]", n=2, response_format="b64_json")
    labels = {"model": "wan2.7-image", "currency": "CNY"}
    assert metric(gateway, "gateway_estimated_cost_total", **labels) == pytest.approx(0.40)
