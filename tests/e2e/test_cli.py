"""The command line: serve with the built-in emulator, the loopback rule, client keys."""

from __future__ import annotations

import subprocess
import sys

import openai
import pytest

from tests.conftest import GatewayFactory, openai_client
from tests.e2e.helpers import png_size_from_b64
from tests.servers import clean_env, free_port, new_key, start_gateway


def test_no_key_serves_real_pngs_from_the_builtin_emulator() -> None:
    gateway = start_gateway({})  # no DashScope key anywhere, default config/gateway.yaml
    try:
        result = openai_client(gateway).images.generate(
            model="wan2.7-image", prompt="a lighthouse", size="1024x1024", response_format="b64_json"
        )
        assert result.data and result.data[0].b64_json
        assert png_size_from_b64(result.data[0].b64_json) == (1024, 1024)
        intl = openai_client(gateway).images.generate(model="dashscope-intl/wan2.1-t2i-turbo", prompt="p")
        assert intl.data and intl.data[0].url
    finally:
        gateway.stop()
    lines = [line for line in gateway.output().splitlines() if "emulator" in line]
    assert len(lines) == 1 and "built-in DashScope emulator" in lines[0]


def test_refuses_public_bind_without_client_keys() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=30,
        env=clean_env({}),
    )
    assert result.returncode == 2
    assert "GATEWAY_API_KEYS" in result.stderr


def test_bad_config_file_stops_the_start(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "bad.yaml"  # type: ignore[operator]
    path.write_text("providers:\n  dashscope: {kind: dashscope, base_url: 5, region: cn}\n  oops: [\n")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(path), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=30,
        env=clean_env({}),
    )
    assert result.returncode == 2
    assert str(path) in result.stderr


def test_client_keys(gateway_factory: GatewayFactory) -> None:
    good, other = new_key("gw-"), new_key("gw-")
    gateway = gateway_factory(GATEWAY_API_KEYS=f"{other}, {good}")
    result = openai_client(gateway, api_key=good).images.generate(model="qwen-image-max", prompt="p")
    assert result.data
    with pytest.raises(openai.AuthenticationError) as info:
        openai_client(gateway, api_key="wrong").images.generate(model="qwen-image-max", prompt="p")
    assert info.value.code == "invalid_api_key"
    assert good not in gateway.output() and other not in gateway.output()
