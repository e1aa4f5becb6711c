"""images.edit through the official openai SDK -> gateway -> DashScope emulator: multipart, JSON, rejections."""

from __future__ import annotations

import base64
import io
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.e2e.helpers import png_size_from_b64, png_size_from_url
from tests.e2e.inputs import data_uri, emulator_posts, image_bytes, noise_png, upload
from tests.servers import Server


def _sent_images(request: dict[str, Any]) -> list[str]:
    body = request["json"]
    if "messages" in body["input"]:
        return [c["image"] for c in body["input"]["messages"][0]["content"] if "image" in c]
    return list(body["input"]["images"])


def _decoded(uri: str) -> Image.Image:
    assert uri.startswith("data:image/")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_one_file_keeps_the_input_ratio(client: openai.OpenAI) -> None:
    # wan2.7 takes 1K/2K tokens: auto sends none, and the model keeps the last input's ratio.
    result = client.images.edit(model="wan2.7-image", image=upload(1200, 800), prompt="make the sky orange")
    assert result.data and result.data[0].url
    width, height = png_size_from_url(result.data[0].url)
    assert abs(width / height - 1.5) < 0.02 and width * height > 3_000_000  # 2K by default
    low = client.images.edit(model="wan2.7-image", image=upload(1200, 800), prompt="p", quality="low")
    assert low.size is not None
    width, height = (int(v) for v in low.size.split("x"))
    assert abs(width / height - 1.5) < 0.02 and width * height < 1_200_000  # quality low: 1K


def test_three_files_as_image_array(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    files = [upload(400, 300, "a.png"), upload(300, 400, "b.jpg", fmt="JPEG"), upload(640, 360, "c.webp", fmt="WEBP")]
    result = client.images.edit(
        model="qwen-image-edit-plus", image=files, prompt="put them together", response_format="b64_json"
    )
    assert result.data and result.data[0].b64_json
    # No size: the last input's ratio (16:9) at about a megapixel.
    assert png_size_from_b64(result.data[0].b64_json) == (1360, 768)
    (sent,) = emulator_posts(emulators["cn"].url)
    images = _sent_images(sent)
    assert [_decoded(u).size for u in images] == [(400, 300), (300, 400), (640, 360)]
    assert [u.split(";")[0] for u in images] == ["data:image/png", "data:image/jpeg", "data:image/webp"]
    assert sent["json"]["parameters"]["size"] == "1360*768"


def test_alpha_is_flattened_for_models_that_reject_it(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    result = client.images.edit(model="wan2.7-image", image=upload(512, 512, mode="RGBA"), prompt="p", size="1K")
    assert result.data and result.data[0].url
    (sent,) = emulator_posts(emulators["cn"].url)
    image = _decoded(_sent_images(sent)[0])
    assert image.mode == "RGB" and image.size == (512, 512)
    assert sent["json"]["parameters"]["size"] == "1K"


def test_size_quality_n_and_extras(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    result = client.images.edit(
        model="qwen-image-edit-plus",
        image=upload(500, 500),
        prompt="p",
        size="1024x1024",
        n=2,
        extra_body={"seed": 7, "watermark": False},
    )
    assert result.data and len(result.data) == 2
    assert png_size_from_url(result.data[1].url or "") == (1024, 1024)
    (sent,) = emulator_posts(emulators["cn"].url)
    assert sent["json"]["parameters"] == {"n": 2, "size": "1024*1024", "seed": 7, "watermark": False}


def test_json_edit_with_urls_and_data_uris(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    inline = data_uri(image_bytes(600, 400, "JPEG"), "image/jpeg")
    remote = "https://example.com/photos/a.png"
    bodies: list[dict[str, Any]] = [
        {"model": "qwen-image-edit-plus", "prompt": "p", "images": [{"image_url": remote}, {"image_url": inline}]},
        {"model": "qwen-image-edit-plus", "prompt": "p", "image": [remote, inline]},
        {"model": "qwen-image-edit-plus", "prompt": "p", "image": inline, "size": "768x512"},
    ]
    for body in bodies:
        result = client.post("/images/edits", body=body, cast_to=openai.types.ImagesResponse)
        assert result.data and result.data[0].url
    sent = emulator_posts(emulators["cn"].url)
    first, second, _ = (_sent_images(r) for r in sent)
    assert first == second and first[0] == remote  # URLs pass through as they are
    assert _decoded(first[1]).size == (600, 400)
    assert sent[0]["json"]["parameters"]["size"] == "1248*832"  # the last image's ratio
    assert sent[2]["json"]["parameters"]["size"] == "768*512"


def test_multipart_with_url_strings_and_indexed_fields(gateway: Server, emulators: dict[str, Server]) -> None:
    # LiteLLM #26552: clients that send image[] as strings, or image[0]/image[1] parts.
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    response = httpx.post(
        gateway.url + "/v1/images/edits",
        data={"model": "qwen-image-edit-plus", "prompt": "p", "n": "1", "image[0]": "https://example.com/a.png"},
        files=[("image[1]", ("b.png", image_bytes(500, 500), "image/png"))],
        timeout=30,
    )
    assert response.status_code == 200, response.text
    (sent,) = emulator_posts(emulators["cn"].url)
    images = _sent_images(sent)
    assert images[0] == "https://example.com/a.png" and _decoded(images[1]).size == (500, 500)


def test_async_image2image_edit(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    result = client.images.edit(
        model="wan2.5-i2i-preview", image=[upload(800, 800), upload(900, 600)], prompt="p", size="1024x1024"
    )
    assert result.data and png_size_from_url(result.data[0].url or "") == (1024, 1024)
    (submit,) = emulator_posts(emulators["cn"].url)
    assert submit["path"].endswith("/image2image/image-synthesis")
    assert {k.lower(): v for k, v in submit["headers"].items()}["x-dashscope-async"] == "enable"
    assert len(submit["json"]["input"]["images"]) == 2


def test_bodies_over_the_default_limit(client: openai.OpenAI) -> None:
    # Two ~12 MB images: above the 10 MB limit of other routes, within wan2.7's 20 MB per image.
    big = ("big.png", noise_png(2000, 2000), "image/png")
    result = client.images.edit(model="wan2.7-image", image=[big, big], prompt="p", size="1024x1024")
    assert result.data and len(result.data) == 1


def test_announced_body_over_the_route_limit_is_413(gateway: Server) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/images/edits HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 300000000\r\n\r\n"
        )
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 413")


def _edit_error(client: openai.OpenAI, kwargs: dict[str, Any]) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as info:
        if "body" in kwargs:
            client.post("/images/edits", body=kwargs["body"], cast_to=openai.types.ImagesResponse)
        else:
            client.images.edit(prompt="p", **kwargs)
    return info.value


_TOO_BIG = b"\x89PNG\r\n\x1a\n" + bytes(11 * 1024 * 1024)
REJECTIONS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "mask",
        {"model": "qwen-image-edit-plus", "image": upload(400, 400), "mask": upload(400, 400)},
        "mask",
        "unsupported_parameter",
    ),
    ("gif", {"model": "wan2.7-image", "image": upload(400, 400, "a.gif", fmt="GIF")}, "image", "invalid_image"),
    (
        "not an image",
        {"model": "wan2.7-image", "image": ("a.png", b"hello, world", "image/png")},
        "image",
        "invalid_image",
    ),
    (
        "bmp-looking text",
        {"model": "wan2.7-image", "image": ("a.bmp", b"BM not really", "image/bmp")},
        "image",
        "invalid_image",
    ),
    ("too small", {"model": "wan2.7-image", "image": upload(200, 400)}, "image", "invalid_image"),
    ("too large", {"model": "wan2.7-image", "image": upload(8100, 1100)}, "image", "invalid_image"),
    ("ratio", {"model": "qwen-image-edit-plus", "image": upload(2700, 300)}, "image", "invalid_image"),
    ("i2i sides", {"model": "wan2.5-i2i-preview", "image": upload(300, 300)}, "image", "invalid_image"),
    ("bytes", {"model": "qwen-image-edit-plus", "image": ("big.png", _TOO_BIG, "image/png")}, "image", "invalid_image"),
    ("count", {"model": "qwen-image-edit-plus", "image": [upload(400, 400)] * 4}, "image", "invalid_image_count"),
    ("not an edit model", {"model": "wanx-v1", "image": upload(400, 400)}, "model", "model_not_edit_capable"),
    ("n", {"model": "wan2.7-image", "image": upload(400, 400), "n": 11}, "n", ""),
    ("size", {"model": "wan2.7-image", "image": upload(400, 400), "size": "banana"}, "size", "invalid_size"),
    (
        "transparent",
        {"model": "wan2.7-image", "image": upload(400, 400), "background": "transparent"},
        "background",
        "unsupported_parameter",
    ),
    ("seed", {"model": "wan2.7-image", "image": upload(400, 400), "extra_body": {"seed": "abc"}}, "seed", ""),
    ("json without image", {"body": {"model": "wan2.7-image", "prompt": "p"}}, "image", ""),
    (
        "json bad base64",
        {"body": {"model": "wan2.7-image", "prompt": "p", "image": "data:image/png;base64,%%%"}},
        "image",
        "invalid_image",
    ),
    (
        "json ftp url",
        {"body": {"model": "wan2.7-image", "prompt": "p", "image": "ftp://x/a.png"}},
        "image",
        "invalid_image",
    ),
    (
        "json file_id",
        {"body": {"model": "wan2.7-image", "prompt": "p", "images": [{"file_id": "file-1"}]}},
        "image",
        "unsupported_parameter",
    ),
    (
        "json mask",
        {
            "body": {
                "model": "wan2.7-image",
                "prompt": "p",
                "image": "https://x/a.png",
                "mask": {"image_url": "https://x/m.png"},
            }
        },
        "mask",
        "unsupported_parameter",
    ),
]


def test_every_rejection_is_a_400_naming_the_field(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["cn"].url + "/__emulator__/requests")
    with ThreadPoolExecutor(8) as pool:
        errors = list(pool.map(lambda row: _edit_error(client, row[1]), REJECTIONS))
    for (name, _, param, code), error in zip(REJECTIONS, errors, strict=True):
        assert error.param == param, (name, error.body)
        if code:
            assert error.code == code, (name, error.body)
    assert emulator_posts(emulators["cn"].url) == []  # nothing reached the upstream
