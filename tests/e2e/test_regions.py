"""Every DashScope region: its models and names, its host, and Frankfurt's async-only wan2.6-image."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from providers.dashscope.kind import KIND, DashScopeSettings
from tests.conftest import GatewayFactory, openai_client
from tests.e2e.inputs import emulator_posts, upload
from tests.servers import Server, new_key, start_emulator

NEW_REGIONS = ("us", "eu", "jp", "hk")
KEY = new_key()


@pytest.fixture(scope="module")
def regional() -> Iterator[dict[str, Server]]:
    servers = {region: start_emulator(region, KEY) for region in NEW_REGIONS}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def gateway(gateway_factory: GatewayFactory, regional: dict[str, Server]) -> Server:
    providers = "".join(
        f'  dashscope-{r}: {{kind: dashscope, region: {r}, base_url: "{s.url}", api_key: "{KEY}"}}\n'
        for r, s in regional.items()
    )
    config = f"default_provider: dashscope-us\ndefault_model: qwen-image-3.0\nproviders:\n{providers}"
    return gateway_factory(config + "upstream: {poll_initial: 0.05, poll_max: 0.2}\n")


EXPECTED = {
    "us": {"wan2.6-t2i", "wan2.6-image", "qwen-image-3.0", "qwen-image-3.0-pro"},
    "eu": {"wan2.6-image", "qwen-image-3.0"},
    "jp": {"qwen-image-3.0", "qwen-image-3.0-pro"},
    "hk": {"qwen-image-3.0"},
}


def test_each_region_offers_its_models(gateway: Server) -> None:
    client = openai_client(gateway)
    listed = {m.id for m in client.models.list()}
    for region, models in EXPECTED.items():
        assert {m.split("/", 1)[1] for m in listed if m.startswith(f"dashscope-{region}/")} == models
    with pytest.raises(openai.NotFoundError):
        client.images.generate(model="dashscope-hk/wan2.7-image", prompt="p")


@pytest.mark.parametrize("region", NEW_REGIONS)
def test_each_region_serves_images(gateway: Server, regional: dict[str, Server], region: str) -> None:
    httpx.delete(regional[region].url + "/__emulator__/requests")
    result = openai_client(gateway).images.generate(
        model=f"dashscope-{region}/qwen-image-3.0", prompt="a harbour", size="1024x1024", response_format="b64_json"
    )
    assert result.data and result.data[0].b64_json and result.size == "1024x1024"
    (sent,) = emulator_posts(regional[region].url)
    assert sent["json"]["model"] == "qwen-image-3.0"


def test_frankfurt_serves_wan26_image_asynchronously(gateway: Server, regional: dict[str, Server]) -> None:
    httpx.delete(regional["eu"].url + "/__emulator__/requests")
    result = openai_client(gateway).images.edit(
        model="dashscope-eu/wan2.6-image", image=upload(1024, 768), prompt="a boat"
    )
    assert result.data and result.data[0].url
    (sent,) = emulator_posts(regional["eu"].url)
    assert sent["path"].endswith("/image-generation/generation")  # the async endpoint


@pytest.mark.parametrize(
    ("region", "workspace", "host"),
    [
        ("cn", None, "https://dashscope.aliyuncs.com"),
        ("us", None, "https://dashscope-us.aliyuncs.com"),
        ("eu", "llm-1a2b", "https://llm-1a2b.eu-central-1.maas.aliyuncs.com"),
        ("jp", "llm-1a2b", "https://llm-1a2b.ap-northeast-1.maas.aliyuncs.com"),
        ("intl", "llm-1a2b", "https://llm-1a2b.ap-southeast-1.maas.aliyuncs.com"),
        ("hk", None, "https://cn-hongkong.dashscope.aliyuncs.com"),
    ],
)
def test_hosts_and_workspace_hosts(region: str, workspace: str | None, host: str) -> None:
    adapter = KIND.build(DashScopeSettings(region=region, workspace_id=workspace), {})  # type: ignore[arg-type]
    assert adapter.base_url == host  # type: ignore[attr-defined]


def test_a_workspace_only_region_without_one_is_a_config_error(gateway_factory: GatewayFactory) -> None:
    with pytest.raises(RuntimeError) as failed:
        # A key: the built-in emulator would otherwise stand in for it on loopback.
        gateway_factory("providers:\n  tokyo: {kind: dashscope, region: jp, api_key: sk-x}\ndefault_provider: tokyo\n")
    assert "set workspace_id" in str(failed.value) and "Traceback" not in str(failed.value)
