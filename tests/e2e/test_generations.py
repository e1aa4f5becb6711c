"""images.generate through the official openai SDK -> gateway -> DashScope emulator, over loopback."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from PIL import Image

from providers.dashscope.catalog import load_catalog
from providers.dashscope.sizes import map_size
from tests.e2e.helpers import png_size_from_b64, png_size_from_url
from tests.servers import Server

CATALOG = load_catalog()
#: Every text-to-image model (edit-only models need input images).
T2I_MODELS = sorted(m for m, e in CATALOG.models.items() if e.images[0] == 0 and not e.size.fixed_by_input)
OPENAI_SIZES = ["256x256", "512x512", "1024x1024", "1792x1024", "1024x1792", "1536x1024", "1024x1536", "auto"]


def test_the_issue_model_list_is_covered() -> None:
    assert set(T2I_MODELS) >= {
        "wanx-v1",
        "wanx2.0-t2i-turbo",
        "wanx2.1-t2i-turbo",
        "wanx2.1-t2i-plus",
        "wan2.2-t2i-flash",
        "wan2.2-t2i-plus",
        "wan2.5-t2i-preview",
        "wan2.6-t2i",
        "wan2.7-image",
        "wan2.7-image-pro",
        "qwen-image",
        "qwen-image-plus",
        "qwen-image-max",
        "qwen-image-2.0",
        "qwen-image-2.0-pro",
        "qwen-image-3.0",
        "qwen-image-3.0-pro",
        "z-image-turbo",
    }


def _expected_dims(model: str, size: str) -> tuple[int, int] | None:
    mapped = map_size(size, CATALOG.models[model.rpartition("/")[2]].size)
    if mapped is None or "*" not in mapped:
        return None
    w, h = mapped.split("*")
    return int(w), int(h)


def _generate_and_check(client: openai.OpenAI, model: str, size: str, fmt: str) -> None:
    result = client.images.generate(model=model, prompt="a red fox in snow", size=size, response_format=fmt)  # type: ignore[arg-type]
    assert result.data is not None and len(result.data) == 1
    image = result.data[0]
    if fmt == "b64_json":
        assert image.url is None and image.b64_json
        dims = png_size_from_b64(image.b64_json)
    else:
        assert image.b64_json is None and image.url
        dims = png_size_from_url(image.url)
    expected = _expected_dims(model, size)
    if expected is not None:
        assert dims == expected, (model, size, fmt)
    if result.size is not None:
        assert result.size == f"{dims[0]}x{dims[1]}", (model, size, fmt)
    elif fmt == "b64_json":
        pytest.fail(f"{model} {size}: b64_json answers always know their size")


@pytest.mark.parametrize("model", T2I_MODELS)
def test_every_model_every_size_both_formats(client: openai.OpenAI, model: str) -> None:
    combos = [(size, fmt) for size in OPENAI_SIZES for fmt in ("url", "b64_json")]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda c: _generate_and_check(client, model, *c), combos))


INTL_MODELS = [m for m in T2I_MODELS if "intl" in CATALOG.models[m].names]


@pytest.mark.parametrize("model", INTL_MODELS)
def test_international_region(client: openai.OpenAI, model: str) -> None:
    _generate_and_check(client, f"dashscope-intl/{model}", "1024x1024", "b64_json")


def test_regional_names_are_translated(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    httpx.delete(emulators["intl"].url + "/__emulator__/requests")
    for name in ("dashscope-intl/wanx2.1-t2i-turbo", "dashscope-intl/wan2.1-t2i-turbo"):
        response = client.images.with_raw_response.generate(model=name, prompt="p", size="1024x1024")
        assert response.headers["x-gateway-provider"] == "dashscope-intl"
        assert response.headers["x-gateway-model"] == "wanx2.1-t2i-turbo"
    sent = httpx.get(emulators["intl"].url + "/__emulator__/requests").json()
    submits = [r for r in sent if r["method"] == "POST"]
    assert [r["json"]["model"] for r in submits] == ["wan2.1-t2i-turbo", "wan2.1-t2i-turbo"]


def test_explicit_china_prefix_and_default_model(client: openai.OpenAI) -> None:
    response = client.images.with_raw_response.generate(model="dashscope/qwen-image-max", prompt="p")
    assert response.status_code == 200
    assert response.headers["x-gateway-provider"] == "dashscope"
    assert response.headers["content-type"] == "application/json"
    response = client.images.with_raw_response.generate(prompt="p")  # no model: the configured default
    assert response.headers["x-gateway-model"] == "wan2.7-image"


@pytest.mark.parametrize("model", ["dall-e-9", "dashscope-intl/wanx-v1", "dashscope-intl/wanx2.0-t2i-turbo", "nope/x"])
def test_unknown_model_is_404(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.images.generate(model=model, prompt="p")
    assert info.value.code == "model_not_found"
    assert info.value.param == "model"


def test_what_is_sent_upstream(client: openai.OpenAI, emulators: dict[str, Server]) -> None:
    cn = emulators["cn"].url
    httpx.delete(cn + "/__emulator__/requests")
    client.images.generate(model="qwen-image-2.0", prompt="p", size="1792x1024")
    client.images.generate(model="wanx2.1-t2i-turbo", prompt="p", size="1792x1024", extra_body={"seed": 3})
    sent = [r for r in httpx.get(cn + "/__emulator__/requests").json() if r["method"] == "POST"]
    sync, submit = sent
    assert "x-dashscope-async" not in {k.lower() for k in sync["headers"]}
    assert {k.lower(): v for k, v in submit["headers"].items()}["x-dashscope-async"] == "enable"
    assert sync["json"]["parameters"] == {"n": 1, "size": "1792*1024"}
    assert submit["json"]["parameters"]["n"] == 1 and submit["json"]["parameters"]["seed"] == 3
    assert "x" not in submit["json"]["parameters"]["size"]
    for request in sent:
        assert "authorization" not in {k.lower() for k in request["headers"]}  # the emulator log drops it


@pytest.mark.parametrize(("model", "n"), [("qwen-image-max", 3), ("wan2.7-image", 6), ("wanx2.1-t2i-turbo", 5)])
def test_n_fan_out(client: openai.OpenAI, model: str, n: int) -> None:
    result = client.images.generate(model=model, prompt="p", n=n, size="1024x1024", response_format="b64_json")
    assert result.data is not None and len(result.data) == n
    for image in result.data:
        assert image.b64_json is not None
        png_size_from_b64(image.b64_json)


@pytest.mark.parametrize("n", [0, 11, -1])
def test_n_out_of_range(client: openai.OpenAI, n: int) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="wan2.7-image", prompt="p", n=n)
    assert info.value.param == "n"


def test_revised_prompt_from_actual_prompt(client: openai.OpenAI) -> None:
    result = client.images.generate(model="wanx2.1-t2i-turbo", prompt="a cat", extra_body={"prompt_extend": True})
    assert result.data and result.data[0].revised_prompt


def test_async_polling_reaches_the_result(client: openai.OpenAI) -> None:
    result = client.images.generate(model="wan2.5-t2i-preview", prompt="p [emu:latency=1.0]", size="1792x1024")
    assert result.data and result.data[0].url
    assert png_size_from_url(result.data[0].url) == (1792, 1024)


def _pixels(image: openai.types.Image) -> Image.Image:
    data = base64.b64decode(image.b64_json) if image.b64_json else httpx.get(image.url or "", timeout=30).content
    with Image.open(io.BytesIO(data)) as decoded:
        decoded.load()
        return decoded.convert("RGB")


@pytest.mark.parametrize(("model", "fmt"), [("qwen-image-2.0", "b64_json"), ("wanx2.1-t2i-turbo", "url")])
def test_two_prompts_give_two_pictures_of_the_size(client: openai.OpenAI, model: str, fmt: str) -> None:
    pictures = []
    for prompt in ("a red fox in snow", "a blue whale at dawn"):
        result = client.images.generate(model=model, prompt=prompt, size="1024x1024", response_format=fmt)  # type: ignore[arg-type]
        assert result.data is not None and len(result.data) == 1
        pictures.append(_pixels(result.data[0]))
    assert [p.size for p in pictures] == [(1024, 1024), (1024, 1024)]
    assert pictures[0].tobytes() != pictures[1].tobytes()
    for picture in pictures:
        # Many colours (a pattern, not a flat fill) and white caption text in the bottom band.
        assert len(picture.getcolors(1 << 20) or []) >= 3
        band = picture.crop((0, picture.height * 7 // 8, picture.width, picture.height))
        assert (255, 255, 255) in {colour for _, colour in band.getcolors(1 << 20) or []}
