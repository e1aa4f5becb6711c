"""Unit and property checks of the size rules, the PNG encoder and the task lanes."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from providers.dashscope.emulator.errors import EmuError
from providers.dashscope.emulator.models import MODELS, REGION_MODELS, find_model
from providers.dashscope.emulator.png import encode_png
from providers.dashscope.emulator.rules import Endpoint
from providers.dashscope.emulator.sizes import output_size, round16

# Every size the gateway's mapper produces must be accepted as is.
MAPPED_SIZES = {
    "wanx-v1": ["1024*1024", "1280*720", "720*1280", "768*1152"],
    "wanx2.1-t2i-turbo": ["512*512", "1024*1024", "1440*816", "816*1440", "1440*960", "960*1440", "1440*512"],
    "wan2.2-t2i-flash": ["512*512", "1440*816", "960*1440"],
    "wan2.5-t2i-preview": ["1280*1280", "1792*1024", "1024*1792", "1568*1056", "1056*1568"],
    "wan2.6-t2i": ["1280*1280", "1792*1024", "1024*1792", "1568*1056", "1056*1568", "2816*704", "1696*960"],
    "wan2.5-i2i-preview": ["768*768", "1024*1024", "1696*960", "960*1696", "1536*1024", "1024*1536"],
    "wan2.6-image": ["768*768", "1024*1024", "1792*1024", "1024*1792", "1536*1024", "1024*1536"],
    "wan2.7-image": ["768*768", "1024*1024", "1792*1024", "1024*1792", "1536*1024", "272*2176"],
    "qwen-image-max": ["1328*1328", "1664*928", "928*1664", "1472*1104", "1104*1472"],
    "qwen-image-plus": ["1328*1328", "1664*928", "928*1664", "1472*1104", "1104*1472"],
    "qwen-image-2.0": ["512*512", "1024*1024", "1792*1024", "1024*1792", "1536*1024", "1024*1536"],
    "qwen-image-edit-plus": ["512*512", "1024*1024", "1792*1024", "1024*1792", "1536*1024", "1024*1536"],
}


@pytest.mark.parametrize(("model", "size"), [(m, s) for m, sizes in MAPPED_SIZES.items() for s in sizes])
def test_contract_mapped_sizes_are_accepted_exactly(model: str, size: str) -> None:
    rule = find_model(model, "cn")
    assert rule is not None
    width, height = (int(v) for v in size.split("*"))
    assert output_size(rule.size, size, (), model=model, text_only=True) == (width, height)


def test_region_tables() -> None:
    cn, intl = REGION_MODELS["cn"], REGION_MODELS["intl"]
    assert len({rule.name for rule in MODELS}) == len(MODELS)
    assert set(cn) - set(intl) >= {"wanx-v1", "wanx2.0-t2i-turbo", "wanx2.1-t2i-turbo", "wanx2.1-imageedit"}
    assert intl["wan2.1-t2i-plus"] is cn["wanx2.1-t2i-plus"]
    for rule in MODELS:
        assert rule.endpoints, rule.name
        assert rule.n.min <= rule.n.default <= rule.n.max
        if rule.size.default is not None and rule.size.kind != "input":
            output_size(rule.size, rule.size.default, (), model=rule.name, text_only=True)
    assert find_model("qwen-image-2.0", "cn") is not None
    assert Endpoint.MULTIMODAL not in cn["wan2.5-t2i-preview"].endpoints


@settings(max_examples=60, deadline=None)
@given(st.integers(16, 4096), st.integers(16, 4096))
def test_box_rules_accept_only_in_bounds_and_keep_the_size(width: int, height: int) -> None:
    rule = REGION_MODELS["cn"]["wan2.7-image"].size
    area, ratio = width * height, width / height
    inside = 768 * 768 <= area <= 2048 * 2048 and 1 / 8 <= ratio <= 8
    try:
        result = output_size(rule, f"{width}*{height}", (), model="wan2.7-image", text_only=False)
    except EmuError as err:
        assert not inside, err.message
        assert err.status == 400 and err.code == "InvalidParameter"
    else:
        assert inside
        assert result == (width, height)


COLOURS = st.integers(0, 0xFFFFFF)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 2500),
    st.lists(st.tuples(COLOURS, COLOURS, st.integers(1, 1500)), min_size=1, max_size=6),
)
def test_png_bands_decode_to_exactly_their_rows(width: int, bands: list[tuple[int, int, int]]) -> None:
    # Two colours per row (left half, right half) so that a row is more than one repeated pixel.
    rows = [
        (left.to_bytes(3, "big") * (width // 2) + right.to_bytes(3, "big") * (width - width // 2), count)
        for left, right, count in bands
    ]
    with Image.open(io.BytesIO(encode_png(width, rows))) as img:
        img.load()
        assert img.size == (width, sum(count for _, count in rows))
        raw = img.tobytes()
    assert raw == b"".join(row * count for row, count in rows)


def test_round16_half_to_even() -> None:
    assert (round16(1033), round16(1032), round16(3)) == (1040, 1024, 16)
