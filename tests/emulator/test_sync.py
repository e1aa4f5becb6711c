"""Sync responses (wan vs qwen shapes), SSE frames, output sizes and result files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import AUTH, MM, Client, advance, data_uri, mm_body, png_size

SSE = {**AUTH, "X-DashScope-SSE": "enable"}


def sync(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(MM, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["request_id"] == response.headers["x-request-id"]
    return result


def image_urls(body: dict[str, Any]) -> list[str]:
    return [item["image"] for c in body["output"]["choices"] for item in c["message"]["content"] if "image" in item]


def test_wan_shape_one_choice_per_image(client: Client) -> None:
    body = sync(client, mm_body("wan2.6-t2i", "cat", n=2, size="1280*1280"))
    choices = body["output"]["choices"]
    assert len(choices) == 2
    assert choices[0]["message"]["content"][0]["type"] == "image"
    assert body["output"]["finished"] is True
    assert "task_metric" not in body["output"]
    assert body["usage"] == {
        "image_count": 2,
        "size": "1280*1280",
        "input_tokens": 0,
        "output_tokens": 0,
        "total_tokens": 0,
    }


def test_wan27_bills_tokens(client: Client) -> None:
    usage = sync(client, mm_body("wan2.7-image", "cat", n=1))["usage"]
    assert usage["size"] == "2048*2048"
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_qwen_shape_one_choice_with_all_images(client: Client) -> None:
    body = sync(client, mm_body("qwen-image-edit-plus", "edit", "https://a/1.png", n=3, size="1033*1032"))
    assert len(body["output"]["choices"]) == 1
    content = body["output"]["choices"][0]["message"]["content"]
    assert len(content) == 3
    assert all(set(item) == {"image"} for item in content)
    assert body["output"]["task_metric"] == {"TOTAL": 3, "SUCCEEDED": 3, "FAILED": 0}
    assert body["usage"] == {"image_count": 3, "width": 1040, "height": 1024}  # rounded to 16
    assert "finished" not in body["output"]


def test_qwen20_has_no_task_metric(client: Client) -> None:
    body = sync(client, mm_body("qwen-image-2.0", "cat", n=1))
    assert "task_metric" not in body["output"]
    assert body["usage"] == {"image_count": 1, "width": 2048, "height": 2048}


@pytest.mark.parametrize(
    ("body", "size"),
    [
        (mm_body("wan2.7-image", "cat", n=1, size="1K"), (1024, 1024)),
        (mm_body("wan2.7-image", "cat", data_uri(800, 400), n=1, size="1K"), (1456, 720)),
        (mm_body("wan2.7-image", "cat", "https://a/1.png", data_uri(400, 800), n=1), (1456, 2896)),
        (mm_body("wan2.7-image", "cat [emu:wide-2k]", n=1), (2985, 1405)),
        (mm_body("wan2.7-image", "cat [emu:wide-2k]", data_uri(512, 512), n=1), (2048, 2048)),
        (mm_body("wan2.6-image", "edit", data_uri(600, 300), n=1), (1808, 912)),
        (mm_body("qwen-image-edit", "edit", data_uri(300, 600)), (720, 1456)),
        (mm_body("qwen-image-max", "cat"), (1664, 928)),
        (mm_body("wan2.6-t2i", "cat", n=1, size="1696*960"), (1696, 960)),
    ],
)
def test_output_sizes(client: Client, body: dict[str, Any], size: tuple[int, int]) -> None:
    result = sync(client, body)
    for url in image_urls(result):
        assert png_size(client.get(url).content) == size
    usage = result["usage"]
    assert usage.get("size", f"{usage.get('width')}*{usage.get('height')}") == f"{size[0]}*{size[1]}"


def test_qwen_edit_rejects_size(client: Client) -> None:
    response = client.post(MM, json=mm_body("qwen-image-edit", "e", "https://a/1.png", size="1024*1024"), headers=AUTH)
    assert response.status_code == 400


def test_result_url_is_signed_png_on_request_host(client: Client) -> None:
    url = image_urls(sync(client, mm_body("qwen-image-max", "cat")))[0]
    parts = urlsplit(url)
    assert parts.netloc == "testserver.local"
    assert parts.path.startswith("/results/")
    query = parse_qs(parts.query)
    assert set(query) == {"Expires", "OSSAccessKeyId", "Signature"}
    assert int(query["Expires"][0]) > time.time() + 86000
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_tampered_or_unsigned_url_is_403_xml(client: Client) -> None:
    url = image_urls(sync(client, mm_body("qwen-image-max", "cat")))[0]
    tampered = url.replace("1664x928", "1664x929")
    response = client.get(tampered)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/xml")
    assert "<Code>SignatureDoesNotMatch</Code>" in response.text
    assert client.get(url.split("?")[0]).status_code == 403


def test_url_expiry_follows_clock_and_ttl(make_client: Callable[..., Client]) -> None:
    client = make_client(url_ttl_seconds=60)
    url = image_urls(sync(client, mm_body("qwen-image-max", "cat")))[0]
    assert client.get(url).status_code == 200
    advance(client, 61)
    response = client.get(url)
    assert response.status_code == 403
    assert "Request has expired." in response.text


def test_latency_applies_to_sync_calls(make_client: Callable[..., Client]) -> None:
    client = make_client(latency=0.3)
    started = time.monotonic()
    sync(client, mm_body("qwen-image-max", "cat"))
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    sync(client, mm_body("qwen-image-max", "cat [emu:latency=0]"))
    assert time.monotonic() - started < 0.3


def parse_sse(text: str) -> list[dict[str, Any]]:
    frames = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        frame: dict[str, Any] = {}
        for line in lines:
            if line.startswith(":HTTP_STATUS/"):
                frame["status"] = int(line.removeprefix(":HTTP_STATUS/"))
            else:
                name, _, value = line.partition(":")
                frame[name] = json.loads(value) if name == "data" else value
        frames.append(frame)
    return frames


def test_sse_frames_for_wan(client: Client) -> None:
    response = client.post(MM, json=mm_body("wan2.6-t2i", "cat", n=2), headers=SSE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = parse_sse(response.text)
    assert [f["id"] for f in frames] == ["1", "2"]
    assert all(f["event"] == "result" and f["status"] == 200 for f in frames)
    assert frames[0]["data"]["output"]["finished"] is False
    assert frames[0]["data"]["output"]["choices"][0]["finish_reason"] == "null"
    assert frames[-1]["data"]["output"]["finished"] is True
    assert frames[-1]["data"]["output"]["choices"][0]["finish_reason"] == "stop"
    assert frames[-1]["data"]["usage"]["image_count"] == 2


def test_sse_interleave_text_then_image(client: Client) -> None:
    body = mm_body("wan2.6-image", "story", n=1, enable_interleave=True, max_images=2)
    frames = parse_sse(client.post(MM, json=body, headers=SSE).text)
    kinds = [f["data"]["output"]["choices"][0]["message"]["content"][0]["type"] for f in frames]
    assert kinds == ["text", "image", "text", "image"]
    assert frames[-1]["data"]["output"]["finished"] is True


def test_sse_qwen_single_final_frame(client: Client) -> None:
    frames = parse_sse(client.post(MM, json=mm_body("qwen-image-2.0", "cat", n=2), headers=SSE).text)
    assert len(frames) == 1
    output = frames[0]["data"]["output"]
    assert output["finished"] is True
    assert len(output["choices"][0]["message"]["content"]) == 2


def test_sse_errors_are_error_frames(client: Client) -> None:
    response = client.post(MM, json=mm_body("qwen-image-max", "cat", n=3), headers=SSE)
    assert response.status_code == 400
    (frame,) = parse_sse(response.text)
    assert frame["event"] == "error"
    assert frame["status"] == 400
    assert frame["data"]["code"] == "InvalidParameter"
    assert frame["data"]["request_id"] == response.headers["x-request-id"]
    late = client.post(MM, json=mm_body("qwen-image-max", "cat [emu:internal-error]"), headers=SSE)
    (frame,) = parse_sse(late.text)
    assert frame["event"] == "error" and frame["status"] == 500
