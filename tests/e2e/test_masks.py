"""OpenAI masks through the official openai SDK -> wanx2.1-imageedit inpainting on the DashScope emulator.

Each masked edit checks, pixel by pixel, the mask that reached the emulator: white
where the OpenAI mask was transparent, black elsewhere, the size of the image sent.
"""

from __future__ import annotations

import base64
import io

import httpx
import openai
import pytest
from PIL import Image

from tests.conftest import openai_client
from tests.e2e.inputs import data_uri, emulator_posts, image_bytes, upload
from tests.servers import Server

HOLE = (100, 50, 300, 200)  # left, top, right, bottom: the area to edit


def openai_mask(width: int, height: int, hole: tuple[int, int, int, int] = HOLE) -> bytes:
    """OpenAI's convention: opaque everywhere, transparent where the image is to be edited."""
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), hole)
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


def _decode(uri: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    image.load()
    return image


def _expected(size: tuple[int, int], hole: tuple[int, int, int, int]) -> Image.Image:
    expected = Image.new("RGB", size, (0, 0, 0))
    expected.paste((255, 255, 255), hole)
    return expected


@pytest.fixture(scope="module")
def client(gateway: Server) -> openai.OpenAI:
    return openai_client(gateway)


def test_a_masked_edit_is_inpainted(client: openai.OpenAI, cn: Server) -> None:
    result = client.images.edit(
        model="gpt-image-1",
        image=upload(1024, 768),
        mask=("mask.png", openai_mask(1024, 768), "image/png"),
        prompt="a red balloon in the marked area",
    )
    assert result.data and result.data[0].b64_json  # a GPT-image name: answered as GPT-image answers
    (sent,) = emulator_posts(cn.url)
    body = sent["json"]
    assert body["model"] == "wanx2.1-imageedit" and body["parameters"]["n"] == 1
    assert body["input"]["function"] == "description_edit_with_mask"
    base, mask = _decode(body["input"]["base_image_url"]), _decode(body["input"]["mask_image_url"])
    assert base.size == mask.size == (1024, 768) and mask.mode == "RGB" and "A" not in base.getbands()
    assert mask.tobytes() == _expected((1024, 768), HOLE).tobytes()


def test_small_images_are_scaled_with_their_mask(client: openai.OpenAI, cn: Server) -> None:
    client.images.edit(
        model="wanx2.1-imageedit",
        image=upload(256, 256, mode="RGBA"),
        mask=("mask.png", openai_mask(256, 256, (0, 0, 128, 256)), "image/png"),
        prompt="p",
        response_format="url",
    )
    (sent,) = emulator_posts(cn.url)
    base, mask = _decode(sent["json"]["input"]["base_image_url"]), _decode(sent["json"]["input"]["mask_image_url"])
    assert base.size == mask.size == (512, 512)  # the model's smallest side, one factor for both
    assert mask.tobytes() == _expected((512, 512), (0, 0, 256, 512)).tobytes()


def test_a_mask_of_another_size_is_fitted_to_the_image(gateway: Server, cn: Server) -> None:
    body = {
        "model": "wanx2.1-imageedit",
        "prompt": "p",
        "image": data_uri(image_bytes(1024, 1024)),
        "mask": {"image_url": data_uri(openai_mask(512, 512, (0, 0, 256, 512)))},
    }
    answer = httpx.post(gateway.url + "/v1/images/edits", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    (sent,) = emulator_posts(cn.url)
    mask = _decode(sent["json"]["input"]["mask_image_url"])
    assert mask.tobytes() == _expected((1024, 1024), (0, 0, 512, 1024)).tobytes()


def test_masks_are_refused_where_they_cannot_be_honoured(client: openai.OpenAI, cn: Server) -> None:
    with pytest.raises(openai.BadRequestError) as no_mask_model:
        client.images.edit(
            model="wan2.7-image",
            image=upload(1024, 768),
            mask=("m.png", openai_mask(1024, 768), "image/png"),
            prompt="p",
        )
    assert no_mask_model.value.param == "mask" and "wanx2.1-imageedit" in no_mask_model.value.message
    opaque = io.BytesIO()
    Image.new("RGB", (1024, 768)).save(opaque, "PNG")
    with pytest.raises(openai.BadRequestError) as no_alpha:
        client.images.edit(model="gpt-image-1", image=upload(1024, 768), mask=("m.png", opaque.getvalue()), prompt="p")
    assert no_alpha.value.param == "mask" and "alpha" in no_alpha.value.message
    with pytest.raises(openai.BadRequestError) as two:
        client.images.edit(
            model="gpt-image-1",
            image=[upload(1024, 768), upload(1024, 768)],
            mask=("m.png", openai_mask(1024, 768), "image/png"),
            prompt="p",
        )
    assert two.value.param == "image"
    assert emulator_posts(cn.url) == []


def test_the_other_functions_through_extra_body(client: openai.OpenAI, cn: Server) -> None:
    result = client.images.edit(
        model="wanx2.1-imageedit",
        image=upload(640, 640),
        prompt="sharper",
        response_format="url",
        extra_body={"function": "super_resolution", "upscale_factor": 2},
    )
    assert result.data and result.data[0].url
    (sent,) = emulator_posts(cn.url)
    assert sent["json"]["input"]["function"] == "super_resolution" and "mask_image_url" not in sent["json"]["input"]
    assert sent["json"]["parameters"]["upscale_factor"] == 2
    plain = client.images.edit(model="wanx2.1-imageedit", image=upload(640, 640), prompt="make it dusk")
    assert plain.data
    assert emulator_posts(cn.url)[-1]["json"]["input"]["function"] == "description_edit"
    bad = [
        ({"function": "expand", "upscale_factor": 2}, "upscale_factor"),
        ({"function": "description_edit_with_mask"}, "mask"),
        ({"function": "paint"}, "function"),
        ({"strength": 3}, "strength"),
    ]
    for extra, param in bad:
        with pytest.raises(openai.BadRequestError) as info:
            client.images.edit(model="wanx2.1-imageedit", image=upload(640, 640), prompt="p", extra_body=extra)
        assert info.value.param == param, (extra, info.value.message)


def _jpeg(width: int, height: int, orientation: int | None = None, noise: bool = False) -> bytes:
    import os

    image = (
        Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
        if noise
        else Image.new("RGB", (width, height), (200, 120, 40))
    )
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def test_different_masks_are_different_requests(client: openai.OpenAI, cn: Server) -> None:
    urls = set()
    for hole in ((100, 50, 300, 200), (600, 400, 900, 700)):
        result = client.images.edit(
            model="wanx2.1-imageedit",
            image=upload(1024, 768),
            mask=("m.png", openai_mask(1024, 768, hole), "image/png"),
            prompt="p",
            response_format="url",
            extra_body={"seed": 7},  # a seed makes the answer cacheable: the mask must be part of its key
        )
        assert result.data and result.data[0].url
        urls.add(result.data[0].url)
    assert len(emulator_posts(cn.url)) == 2 and len(urls) == 2


def test_a_large_photo_stays_within_the_models_byte_limit(client: openai.OpenAI, cn: Server) -> None:
    photo = _jpeg(2500, 2500, noise=True)  # 2.5 MB as JPEG, about 18 MB as PNG
    result = client.images.edit(
        model="wanx2.1-imageedit",
        image=("photo.jpg", photo, "image/jpeg"),
        mask=("m.png", openai_mask(2500, 2500), "image/png"),
        prompt="p",
    )
    assert result.data
    (sent,) = emulator_posts(cn.url)
    assert len(sent["json"]["input"]["base_image_url"]) < 10 * 1024 * 1024 * 4 / 3


def test_a_photos_orientation_is_honoured_and_the_shapes_must_match(client: openai.OpenAI, cn: Server) -> None:
    client.images.edit(
        model="wanx2.1-imageedit",
        image=("photo.jpg", _jpeg(1024, 768, orientation=6), "image/jpeg"),  # shown upright: 768x1024
        mask=("m.png", openai_mask(768, 1024, (0, 0, 768, 150)), "image/png"),
        prompt="p",
    )
    (sent,) = emulator_posts(cn.url)
    base, mask = _decode(sent["json"]["input"]["base_image_url"]), _decode(sent["json"]["input"]["mask_image_url"])
    assert base.size == mask.size == (768, 1024)
    assert mask.tobytes() == _expected((768, 1024), (0, 0, 768, 150)).tobytes()
    with pytest.raises(openai.BadRequestError) as shape:
        client.images.edit(
            model="wanx2.1-imageedit",
            image=upload(1024, 768),
            mask=("m.png", openai_mask(768, 1024, (0, 0, 100, 100)), "image/png"),
            prompt="p",
        )
    assert shape.value.param == "mask"
