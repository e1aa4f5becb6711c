"""The emulator's pictures: they tell requests apart, carry their model and size, and stay cheap."""

from __future__ import annotations

import io
import time
from typing import Any
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from providers.dashscope.emulator.picture import render
from providers.dashscope.emulator.plan import fold_text
from providers.dashscope.emulator.results import ImageSpec
from providers.dashscope.emulator.state import Emulator

from .conftest import AUTH, MM, Client, mm_body

WHITE = (255, 255, 255)


def decode(png: bytes) -> Image.Image:
    with Image.open(io.BytesIO(png)) as img:
        img.load()
        return img.convert("RGB")


def spec(width: int = 1024, height: int = 1024, **caption: Any) -> ImageSpec:
    fields = {"model": "wan2.6-t2i", "prompt": "a red fox in the snow", "seed": 7, **caption}
    return ImageSpec(width, height, 0x4E79A7, "", **fields)


def urls(client: Client, prompt: str, n: int = 1, **parameters: Any) -> list[str]:
    body = mm_body("wan2.6-t2i", prompt, n=n, size="1280*1280", **parameters)
    response = client.post(MM, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return [c["message"]["content"][0]["image"] for c in response.json()["output"]["choices"]]


def fetch(client: Client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return response.content


def band_top(img: Image.Image) -> int:
    """The first row of the caption band: the band's colour runs up the left edge from the bottom."""
    band = img.getpixel((0, img.height - 1))
    y = img.height - 1
    while y > 0 and img.getpixel((0, y - 1)) == band:
        y -= 1
    return y


def test_requests_differ_by_prompt_seed_and_index(client: Client) -> None:
    fox, cat = fetch(client, urls(client, "a fox")[0]), fetch(client, urls(client, "a cat")[0])
    seeded = [fetch(client, urls(client, "a fox", seed=seed)[0]) for seed in (1, 2)]
    pair = [fetch(client, url) for url in urls(client, "a fox", n=2, seed=9)]
    pictures = [fox, cat, *seeded, *pair]
    assert len(set(pictures)) == len(pictures)
    assert len({decode(png).tobytes() for png in pictures}) == len(pictures)
    for png in pictures:
        assert decode(png).size == (1280, 1280)


def test_same_request_same_bytes(client: Client) -> None:
    first, second = urls(client, "a fox", seed=3)[0], urls(client, "a fox", seed=3)[0]
    assert urlsplit(first).path != urlsplit(second).path  # other request ids
    assert fetch(client, first) == fetch(client, second)
    assert render(0, spec()) == render(0, spec())


def test_prompts_alike_in_their_start_still_differ(client: Client) -> None:
    start = "x" * 80
    assert fetch(client, urls(client, start + " one")[0]) != fetch(client, urls(client, start + " two")[0])


def test_caption_band_holds_the_model_and_differs_from_the_pattern() -> None:
    one, other = decode(render(0, spec())), decode(render(0, spec(model="qwen-image-max")))
    top = band_top(one)
    assert 100 <= one.height - top <= one.height // 3  # 3 lines of 11 font pixels at 3 px each, and room
    band = one.crop((0, top, one.width, one.height))
    assert WHITE in {colour for _, colour in band.getcolors(1 << 20) or []}
    assert one.getpixel((0, top)) != one.getpixel((0, top - 1))
    # The pattern comes from the key colour alone, so another model changes the caption and nothing else.
    assert one.crop((0, 0, one.width, top)).tobytes() == other.crop((0, 0, other.width, top)).tobytes()
    assert band.tobytes() != other.crop((0, top, other.width, other.height)).tobytes()


def test_caption_lines_are_dropped_before_they_overflow() -> None:
    full, bare = decode(render(0, spec(256, 120))), decode(render(0, spec(256, 120, prompt="")))
    assert full.tobytes() == bare.tobytes()  # 120 px leave room for the model and size lines only
    tiny = decode(render(0, spec(40, 40)))
    assert WHITE not in {colour for _, colour in tiny.getcolors(1 << 20) or []}  # no room for any text


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4096),
    st.integers(1, 4096),
    st.integers(0, 9),
    st.text(max_size=80),
    st.one_of(st.none(), st.integers(0, 2**31 - 1)),
)
def test_every_size_renders_exactly(width: int, height: int, index: int, prompt: str, seed: int | None) -> None:
    png = render(index, spec(width, height, prompt=fold_text(prompt, 60), seed=seed))
    assert decode(png).size == (width, height)


def test_fold_text_is_bounded_printable_ascii() -> None:
    assert fold_text("Crème brûlée\n\tau   café", 60) == "Creme brulee au cafe"
    assert fold_text("一只猫 on a mat", 60) == "??? on a mat"
    assert len(fold_text("y" * 500, 60)) == 60


def test_caption_is_signed_and_the_old_path_form_still_serves(client: Client) -> None:
    url = urls(client, "a fox")[0]
    path = urlsplit(url).path
    name = path.rsplit("/", 1)[1]
    assert name.count(".") == 2  # {index}_{W}x{H}_{RRGGBB}.{caption}.png
    forged = url.replace(name.split(".")[1], name.split(".")[1][::-1])
    assert client.get(forged).status_code == 403
    emu: Emulator = client.app.state["emulator"]
    old = emu.signer.url("http://testserver.local", "req-1", 2, ImageSpec(300, 200, 0x112233), int(time.time()) + 60)
    assert "." not in urlsplit(old).path.rsplit("/", 1)[1][: -len(".png")]
    assert decode(fetch(client, old)).size == (300, 200)


def test_big_pictures_stay_cheap() -> None:
    # A solid-colour PNG cost ~5 ms at 4096*4096; a picture must stay in that league, not seconds.
    started = time.perf_counter()
    png = render(5, spec(4096, 4096, prompt="cheap big picture"))
    assert time.perf_counter() - started < 1.0
    assert len(png) < 1 << 20
