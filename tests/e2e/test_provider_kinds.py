"""A provider kind defined outside gateway/ and providers/ (tests/kinds/sketch.py), served end to end.

The gateway loads it from ``provider_modules``, reads its own settings from the
provider entry, decodes its own extras from requests and builds its adapter, all
through the registry, without a line of the gateway naming it.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from PIL import Image

from tests.conftest import GatewayFactory, openai_client
from tests.e2e.helpers import png_size_from_b64
from tests.servers import Server, new_key

KEY = new_key("sk-sketch-")


class SketchUpstream(ThreadingHTTPServer):
    renders: list[dict]  # type: ignore[type-arg]


class _Handler(BaseHTTPRequestHandler):
    server: SketchUpstream

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.headers.get("authorization") != f"Bearer {KEY}":
            self._send(401, b'{"message": "bad key"}')
            return
        self.server.renders.append(body)
        host = f"http://127.0.0.1:{self.server.server_address[1]}"
        size = f"{body['width']}x{body['height']}"
        images = [{"href": f"{host}/files/{size}/{i}.png"} for i in range(body["count"])]
        self._send(200, json.dumps({"id": f"r-{len(self.server.renders)}", "images": images}).encode())

    def do_GET(self) -> None:
        width, height = (int(side) for side in self.path.split("/")[2].split("x"))
        out = io.BytesIO()
        Image.new("RGB", (width, height), "white").save(out, "PNG")
        self._send(200, out.getvalue(), "image/png")


@pytest.fixture(scope="module")
def upstream() -> Iterator[SketchUpstream]:
    server = SketchUpstream(("127.0.0.1", 0), _Handler)
    server.renders = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def _config(upstream: SketchUpstream, entry: str = "paper: grey") -> str:
    return f"""
provider_modules: [tests.kinds.sketch]
default_provider: sketch
default_model: sketch-1
aliases: {{}}
providers:
  sketch:
    kind: sketch
    base_url: "http://127.0.0.1:{upstream.server_address[1]}"
    api_key: "${{SKETCH_KEY}}"
    {entry}
"""


@pytest.fixture(scope="module")
def gateway(gateway_factory: GatewayFactory, upstream: SketchUpstream) -> Server:
    return gateway_factory(_config(upstream), SKETCH_KEY=KEY)


def test_images_generate_through_a_kind_of_the_tests_own(gateway: Server, upstream: SketchUpstream) -> None:
    client = openai_client(gateway)
    result = client.images.generate(
        model="sketch-1", prompt="a lighthouse", n=2, size="96x48", extra_body={"palette": "sepia"}
    )
    assert [d.url for d in result.data] == [
        f"http://127.0.0.1:{upstream.server_address[1]}/files/96x48/{i}.png" for i in range(2)
    ]
    # Its settings and its extras reached its adapter; nothing of another kind's did.
    assert upstream.renders[-1] == {
        "text": "a lighthouse",
        "count": 2,
        "width": 96,
        "height": 48,
        "paper": "grey",
        "palette": "sepia",
    }
    inline = client.images.generate(model="sketch-1", prompt="p", size="32x32", response_format="b64_json")
    assert inline.data[0].b64_json is not None and png_size_from_b64(inline.data[0].b64_json) == (32, 32)
    models = {m.id: m.owned_by for m in client.models.list()}
    assert models["sketch-1"] == models["sketch/sketch-1"] == "sketch"


def test_its_extras_and_sizes_are_checked_as_it_says(gateway: Server, upstream: SketchUpstream) -> None:
    client = openai_client(gateway)
    sent = len(upstream.renders)
    with pytest.raises(openai.BadRequestError) as bad_extra:
        client.images.generate(model="sketch-1", prompt="p", extra_body={"palette": "neon"})
    assert bad_extra.value.body["param"] == "palette"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as bad_size:
        client.images.generate(model="sketch-1", prompt="p", size="4096x4096")
    assert bad_size.value.body["param"] == "size"  # type: ignore[index]
    # Another kind's extras are no parameter of this one: not sent.
    client.images.generate(model="sketch-1", prompt="p", extra_body={"negative_prompt": "x"})
    assert "negative_prompt" not in upstream.renders[-1]
    assert len(upstream.renders) == sent + 1


def test_its_settings_are_checked_at_start(gateway_factory: GatewayFactory, upstream: SketchUpstream) -> None:
    with pytest.raises(RuntimeError) as failed:
        gateway_factory(_config(upstream, "paper: gold"), SKETCH_KEY=KEY)
    assert ".yaml:11: Invalid enum value 'gold' (at $.providers.sketch.paper)" in str(failed.value)
    with pytest.raises(RuntimeError) as unknown:
        gateway_factory(_config(upstream, "region: cn"), SKETCH_KEY=KEY)
    assert "unknown field `region` (at $.providers.sketch)" in str(unknown.value)


def test_a_missing_provider_module_is_a_config_error(gateway_factory: GatewayFactory) -> None:
    with pytest.raises(RuntimeError) as failed:
        gateway_factory("provider_modules: [tests.kinds.nope]\nproviders: {}\n")
    assert "cannot import provider module 'tests.kinds.nope'" in str(failed.value)
    assert "Traceback" not in str(failed.value)
