"""The openai-compatible provider, driven through the official openai SDK.

Upstreams: the emulator's compatible mode (``--compat-images``, so its
``/images/generations`` answers, as QwenCloud's does) and a second gateway
instance, each asked in both styles (``/images/*`` and ``/chat/completions``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import GatewayFactory, Keys, openai_client
from tests.e2e.helpers import png_size_from_b64, png_size_from_url
from tests.e2e.inputs import emulator_posts, upload
from tests.servers import Server, start_emulator

CONFIG = """
default_model: wan2.7-image
default_provider: dashscope
providers:
  dashscope: {kind: dashscope, region: cn, base_url: "${DASHSCOPE_BASE_URL}", api_key: "${DASHSCOPE_API_KEY}"}
  bailian:
    kind: openai-compatible
    base_url: "${COMPAT_URL}/compatible-mode/v1"
    api_key: "${DASHSCOPE_API_KEY}"
    image_models: [wan2.7-image, qwen-image-2.0]
    chat_models: [qwen-plus]
  bailian-chat:
    kind: openai-compatible
    base_url: "${COMPAT_URL}/compatible-mode/v1"
    api_key: "${DASHSCOPE_API_KEY}"
    image_api: chat
    image_models: [wan2.7-image]
  bailian-badkey:
    kind: openai-compatible
    base_url: "${COMPAT_URL}/compatible-mode/v1"
    api_key: "sk-not-the-right-key-0123"
    image_models: [wan2.7-image]
  peer:
    kind: openai-compatible
    base_url: "${PEER_URL}/v1"
    api_key: "sk-peer"
    image_models: [wan2.7-image, qwen-image-edit-plus]
    # The peer's results are its (emulated) DashScope's URLs.
    download_origins: ["${DASHSCOPE_BASE_URL}"]
  peer-chat:
    kind: openai-compatible
    base_url: "${PEER_URL}/v1"
    api_key: "sk-peer"
    image_api: chat
    image_models: [wan2.7-image, qwen-image-2.0]
upstream: {deadline_seconds: 30, backoff_initial: 0.05, backoff_max: 0.2, poll_initial: 0.05, poll_max: 0.2}
"""


@pytest.fixture(scope="module")
def compat_emulator() -> Iterator[Server]:
    server = start_emulator("cn", Keys.cn, extra=("--compat-images",))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def front(gateway_factory: GatewayFactory, gateway: Server, compat_emulator: Server) -> Server:
    return gateway_factory(CONFIG, COMPAT_URL=compat_emulator.url, PEER_URL=gateway.url)


@pytest.fixture(scope="module")
def client(front: Server) -> openai.OpenAI:
    return openai_client(front)


def test_images_style_against_dashscope_compatible_mode(client: openai.OpenAI, compat_emulator: Server) -> None:
    httpx.delete(compat_emulator.url + "/__emulator__/requests")
    result = client.images.generate(model="bailian/wan2.7-image", prompt="p", size="1024*1024", n=2)
    assert result.data and len(result.data) == 2
    assert png_size_from_url(result.data[0].url or "") == (1024, 1024)
    (sent,) = emulator_posts(compat_emulator.url)
    assert sent["path"] == "/compatible-mode/v1/images/generations"
    assert sent["json"] == {"model": "wan2.7-image", "prompt": "p", "n": 2, "size": "1024x1024"}
    b64 = client.images.generate(model="bailian/qwen-image-2.0", prompt="p", size="512x512", response_format="b64_json")
    assert b64.data and png_size_from_b64(b64.data[0].b64_json or "") == (512, 512)


def test_chat_style_against_dashscope_is_a_clear_error(client: openai.OpenAI) -> None:
    # DashScope's compatible mode serves no image models (404 model_not_supported).
    with pytest.raises(openai.NotFoundError) as info:
        client.images.generate(model="bailian-chat/wan2.7-image", prompt="p")
    assert info.value.code == "model_not_supported" and info.value.param == "model"
    assert "kind 'dashscope'" in info.value.message


def test_rejected_provider_key_is_never_echoed(client: openai.OpenAI, front: Server) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client.images.generate(model="bailian-badkey/wan2.7-image", prompt="p")
    assert info.value.status_code == 502 and info.value.code == "upstream_auth_error"
    assert "sk-not-the-right" not in str(info.value.body)
    assert "sk-not-the-right" not in front.output()


def test_text_chat_is_proxied_plain_and_streamed(client: openai.OpenAI, compat_emulator: Server) -> None:
    httpx.delete(compat_emulator.url + "/__emulator__/requests")
    hello = [{"role": "user", "content": "hi there"}]
    answer = client.chat.completions.create(model="bailian/qwen-plus", messages=hello)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "hi there" and answer.model == "qwen-plus"
    stream = client.chat.completions.create(
        model="bailian/qwen-plus",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "one two three"
    assert chunks[-1].usage is not None
    sent = emulator_posts(compat_emulator.url)
    assert [r["json"]["model"] for r in sent] == ["qwen-plus", "qwen-plus"]  # the provider prefix is gone
    assert sent[1]["json"]["stream_options"] == {"include_usage": True}  # everything else as it came


def test_proxied_chat_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="bailian/qwen-plus", messages=[], stream=True)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="bailian/qwen-nope", messages=[{"role": "user", "content": "x"}])


def test_images_style_against_another_gateway(client: openai.OpenAI) -> None:
    result = client.images.generate(model="peer/wan2.7-image", prompt="p", size="1792x1024", response_format="b64_json")
    assert result.data and png_size_from_b64(result.data[0].b64_json or "") == (1792, 1024)
    edited = client.images.edit(
        model="peer/qwen-image-edit-plus", image=[upload(400, 300), upload(640, 360)], prompt="p"
    )
    assert edited.data and png_size_from_url(edited.data[0].url or "") == (1360, 768)


def test_peer_errors_keep_their_field(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="peer/qwen-image-edit-plus", prompt="p")  # an edit model without images
    assert info.value.param == "model" and "Upstream:" in info.value.message


def test_chat_style_against_another_gateway(client: openai.OpenAI) -> None:
    result = client.images.generate(model="peer-chat/wan2.7-image", prompt="p", size="1024x1792")
    assert result.data and png_size_from_url(result.data[0].url or "") == (1024, 1792)
    answer = client.chat.completions.create(
        model="peer-chat/qwen-image-2.0",
        messages=[{"role": "user", "content": "p"}],
        n=2,
        extra_body={"size": "768x768"},
    )
    urls = [c.message.model_extra["images"][0]["image_url"]["url"] for c in answer.choices]  # type: ignore[index]
    assert len(urls) == 2 and all(png_size_from_url(u) == (768, 768) for u in urls)


def test_models_list_covers_compat_providers(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    chat = models["bailian/qwen-plus"]
    assert chat.owned_by == "bailian" and (chat.model_extra or {})["capabilities"]["type"] == "chat"
    assert (models["peer/wan2.7-image"].model_extra or {})["capabilities"]["edits"] is True
    assert client.models.retrieve("peer-chat/qwen-image-2.0").owned_by == "peer-chat"
