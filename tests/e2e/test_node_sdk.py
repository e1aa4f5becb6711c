"""Image streams, the Responses image tool and variations through the official openai Node SDK.

``tests/node/scenarios.mjs`` drives the gateway with npm's ``openai`` (installed by
``make test`` from tests/node/package-lock.json) and prints what the SDK saw.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import GatewayFactory
from tests.e2e.inputs import image_bytes
from tests.e2e.test_responses import CONFIG
from tests.servers import LOG_DIR, Server

NODE_DIR = Path(__file__).resolve().parents[1] / "node"

_MISSING = shutil.which("node") is None or not (NODE_DIR / "node_modules" / "openai").is_dir()
#: make test installs Node and the SDK and sets this: there, missing them is a failure, not a skip.
_REQUIRED = os.environ.get("REQUIRE_NODE_SDK") == "1"
pytestmark = pytest.mark.skipif(_MISSING and not _REQUIRED, reason="node and tests/node/node_modules (make test)")


@pytest.fixture(scope="module")
def seen(gateway_factory: GatewayFactory, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    gateway: Server = gateway_factory(CONFIG)
    picture = tmp_path_factory.mktemp("node") / "in.png"
    picture.write_bytes(image_bytes(512, 512))
    env = {"GATEWAY_URL": gateway.url, "INPUT_PNG": str(picture), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    done = subprocess.run(
        ["node", "scenarios.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "node-sdk.log").write_text(done.stdout + done.stderr)  # searched by the secret scan
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_gpt_image_answers(seen: dict) -> None:  # type: ignore[type-arg]
    assert seen["generate"]["b64"] > 1000 and seen["generate"]["url"] is None
    assert (seen["generate"]["size"], seen["generate"]["output_format"]) == ("1024x1024", "png")


def test_image_streams(seen: dict) -> None:  # type: ignore[type-arg]
    assert [e["type"] for e in seen["generate_stream"]] == ["image_generation.completed"] * 2
    assert all(e["b64"] > 1000 and e["size"] == "1024x1024" for e in seen["generate_stream"])
    assert [e["type"] for e in seen["edit_stream"]] == ["image_edit.completed"]


def test_stream_errors(seen: dict) -> None:  # type: ignore[type-arg]
    assert seen["stream_error"] is not None and "Error" in seen["stream_error"]["name"]
    assert seen["bad_request"]["status"] == 400 and seen["bad_request"]["param"] == "size"


def test_variations(seen: dict) -> None:  # type: ignore[type-arg]
    assert seen["variation"] == {"url": True}


def test_responses(seen: dict) -> None:  # type: ignore[type-arg]
    assert seen["response"]["object"] == "response" and seen["response"]["status"] == "completed"
    assert seen["response"]["result"] > 1000 and seen["response"]["size"] == "1024x1024"
    types = [e["type"] for e in seen["response_stream"]]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert "response.image_generation_call.completed" in types
    assert [e["sequence_number"] for e in seen["response_stream"]] == list(range(len(types)))
    assert seen["response_helper"]["status"] == "completed" and seen["response_helper"]["result"] > 1000
    assert seen["proxied"] == "hello there"
