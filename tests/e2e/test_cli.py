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


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=30, env=clean_env({})
    )


def test_an_unknown_provider_kind_is_a_clear_error_everywhere(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "kind.yaml"  # type: ignore[operator]
    path.write_text('default_provider: x\nproviders:\n  x: {kind: nonsense, base_url: "http://127.0.0.1:1"}\n')
    for args in (("keys", "--config", str(path)), ("check-config", str(path))):
        result = _cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "unknown provider kind 'nonsense'" in result.stderr and "Traceback" not in result.stderr


def test_without_dashscope_providers_no_emulator_is_announced(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "compat.yaml"  # type: ignore[operator]
    path.write_text(
        "default_provider: peer\ndefault_model: img\n"
        'providers:\n  peer: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1", image_models: [img]}\n'
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env({}),
    )
    try:
        output = ""
        assert process.stdout is not None
        for line in process.stdout:
            output += line
            if "Uvicorn running" in line or "started" in line.lower() or len(output) > 20_000:
                break
    finally:
        process.terminate()
        output += process.communicate(timeout=10)[0]
    assert "emulator" not in output, output
