"""Hostile clients: bodies under the wrong content type, broken images, wrong types, huge prompts, huge pixels.

Each is a clear OpenAI-shaped 4xx before anything goes upstream, and none stalls the
event loop for other clients.
"""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.e2e.inputs import emulator_posts, image_bytes
from tests.servers import Server


def _post(gateway: Server, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(gateway.url + path, timeout=30, **kwargs)


@pytest.mark.parametrize("path", ["/v1/images/generations", "/v1/chat/completions"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "image/png"])
def test_json_routes_refuse_other_content_types(gateway: Server, path: str, content_type: str) -> None:
    body = b'{"model": "qwen-image-2.0", "prompt": "p", "messages": [{"role": "user", "content": "p"}]}'
    answer = _post(gateway, path, content=body, headers={"content-type": content_type})
    assert answer.status_code == 415, answer.text
    assert answer.json()["error"]["code"] == "unsupported_content_type"


def _truncated(fmt: str) -> bytes:
    data = image_bytes(640, 480, fmt)
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP"])
def test_a_truncated_image_never_goes_upstream(client: openai.OpenAI, emulators: dict[str, Server], fmt: str) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    with pytest.raises(openai.BadRequestError) as info:
        client.images.edit(
            model="qwen-image-edit-plus", image=("in.img", _truncated(fmt), f"image/{fmt.lower()}"), prompt="p"
        )
    assert info.value.code == "invalid_image" and info.value.param == "image"
    assert emulator_posts(emulators["cn"].url) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream", "yes"),
        ("quality", 5),
        ("quality", "ultra"),
        ("background", ["x"]),
        ("background", "transparent"),
        ("output_format", 1),
        ("output_format", "gif"),
        ("output_compression", "high"),
        ("moderation", "none"),
        ("partial_images", 9),
        ("n", "two"),
        ("size", 1024),
    ],
)
def test_openai_fields_are_typed(gateway: Server, field: str, value: object) -> None:
    answer = _post(gateway, "/v1/images/generations", json={"model": "qwen-image-2.0", "prompt": "p", field: value})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == field


@pytest.mark.parametrize(("field", "value"), [("quality", "high"), ("background", "opaque"), ("moderation", "low")])
def test_openai_fields_with_meaning_here_are_accepted(client: openai.OpenAI, field: str, value: str) -> None:
    result = client.images.generate(model="qwen-image-2.0", prompt="p", **{field: value})  # type: ignore[arg-type]
    assert result.data and (result.data[0].url or result.data[0].b64_json)


def test_a_prompt_over_the_models_limit_is_a_400(gateway: Server, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    for field, limit in (("prompt", 800), ("negative_prompt", 500)):  # qwen-image-2.0's documented limits
        body = {"model": "qwen-image-2.0", "prompt": "p", field: "a" * (limit + 1)}
        answer = _post(gateway, "/v1/images/generations", json=body)
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["param"] == field and str(limit) in error["message"]
    big = _post(gateway, "/v1/images/generations", json={"model": "qwen-image-2.0", "prompt": "a" * 9_000_000})
    assert big.status_code in (400, 413)
    assert emulator_posts(emulators["cn"].url) == []


def test_flattening_a_huge_image_does_not_stall_other_clients(client: openai.OpenAI, gateway: Server) -> None:
    out = io.BytesIO()
    Image.new("P", (8000, 8000), 3).save(out, "PNG", transparency=3)
    data = out.getvalue()  # one transparent palette colour: a few KB that decode to 256 MB of pixels
    assert len(data) < 100_000
    results: list[object] = []

    def edit() -> None:
        try:
            results.append(client.images.edit(model="wan2.7-image", image=("big.png", data, "image/png"), prompt="p"))
        except openai.APIStatusError as exc:
            results.append(exc)

    worker = threading.Thread(target=edit)
    worker.start()
    slowest = 0.0
    while worker.is_alive():
        started = time.monotonic()
        assert httpx.get(gateway.url + "/healthz", timeout=10).status_code == 200
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.02)
    worker.join()
    assert slowest < 0.5, slowest
    assert results and not isinstance(results[0], openai.InternalServerError), results
