"""The size mapper: worked examples, bad input, and properties that hold for every size."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.dashscope.catalog import load_catalog
from providers.dashscope.sizes import SizeRule, accepts, map_size
from providers.errors import InvalidRequest

CATALOG = load_catalog()
RULES: dict[str, SizeRule] = {}
for model_id, entry in CATALOG.models.items():
    RULES[model_id] = entry.size
    if entry.edit_size:
        RULES[f"{model_id} (edit)"] = entry.edit_size


def rule(model: str) -> SizeRule:
    return RULES[model]


@pytest.mark.parametrize(
    ("model", "size", "expected"),
    [
        # where the mapping is fully determined
        ("wanx-v1", "1792x1024", "1280*720"),
        ("wanx-v1", "1024x1536", "768*1152"),
        ("wanx-v1", "1536x1024", "1280*720"),
        ("wanx-v1", "256x256", "1024*1024"),
        ("wanx2.1-t2i-turbo", "1024x1024", "1024*1024"),
        ("wanx2.1-t2i-turbo", "512x512", "512*512"),
        ("wanx2.1-t2i-turbo", "256x256", "512*512"),
        ("wanx2.1-t2i-turbo", "3000x1000", "1440*512"),
        ("wan2.6-t2i", "1024x1024", "1280*1280"),
        ("wan2.6-t2i", "1792x1024", "1792*1024"),
        ("wan2.6-t2i", "4000x500", "2816*704"),
        ("wan2.6-t2i", "1696x960", "1696*960"),  # official preset below 1280^2 passes unchanged
        ("wan2.7-image", "1792x1024", "1792*1024"),
        ("wan2.7-image", "100x5000", "272*2176"),
        ("wan2.7-image", "256x256", "768*768"),
        ("wan2.7-image-pro", "4096x4096", "4096*4096"),
        ("wan2.7-image-pro (edit)", "4096x4096", "2048*2048"),
        ("qwen-image-max", "1024x1024", "1328*1328"),
        ("qwen-image-plus", "1536x1024", "1472*1104"),
        ("qwen-image-plus", "1792x1024", "1664*928"),
        ("qwen-image-plus", "1024x1792", "928*1664"),
        ("qwen-image-2.0", "1024x1024", "1024*1024"),
        ("qwen-image-2.0", "256x256", "512*512"),
        ("qwen-image-edit-plus", "1024x1536", "1024*1536"),
    ],
)
def test_worked_examples(model: str, size: str, expected: str) -> None:
    assert map_size(size, rule(model)) == expected


@pytest.mark.parametrize("size", [None, "", "auto", "AUTO", "  auto "])
def test_auto_sends_no_size(size: str | None) -> None:
    assert map_size(size, rule("wan2.7-image")) is None


def test_accepted_separators() -> None:
    for text in ("1024x768", "1024*768", "1024X768", "1024\u00d7768", " 1024 x 768 "):
        assert map_size(text, rule("wan2.7-image")) == "1024*768"


def test_tokens_pass_where_the_model_has_them() -> None:
    assert map_size("2K", rule("wan2.7-image")) == "2K"
    assert map_size("4k", rule("wan2.7-image-pro")) == "4K"
    # no 4K for wan2.7-image: a square of that size, snapped into the limits
    assert map_size("4K", rule("wan2.7-image")) == "2048*2048"
    assert map_size("1K", rule("qwen-image-max")) == "1328*1328"


def test_model_without_size_sends_none_but_still_checks() -> None:
    assert map_size("1024x1024", rule("qwen-image-edit")) is None
    with pytest.raises(InvalidRequest):
        map_size("banana", rule("qwen-image-edit"))


@pytest.mark.parametrize("size", ["banana", "0x5", "5x0", "-1x5", "1024", "x", "1e3x5", "10x10x10", "99999999x2"])
def test_not_a_size(size: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        map_size(size, rule("wan2.7-image"))
    assert info.value.param == "size"
    assert info.value.status == 400


def _valid_independently(r: SizeRule, text: str) -> bool:
    """Re-check a result against the catalog's numbers without the mapper's own helper."""
    if text in r.tokens or text in r.presets:
        return True
    w, h = (int(v) for v in text.split("*"))
    if r.is_enum:
        return False
    if r.side and not (r.side[0] <= w <= r.side[1] and r.side[0] <= h <= r.side[1]):
        return False
    if r.area and not (r.area[0] <= w * h <= r.area[1]):
        return False
    return not (r.ratio and not (r.ratio[0] - 1e-9 <= w / h <= r.ratio[1] + 1e-9))


def _ratio_bounds(r: SizeRule) -> tuple[float, float]:
    low, high = r.ratio or (0.0, math.inf)
    if r.side:
        low, high = max(low, r.side[0] / r.side[1]), min(high, r.side[1] / r.side[0])
    return low, high


sides = st.integers(min_value=1, max_value=8192)


@settings(max_examples=300, deadline=None)
@given(model=st.sampled_from(sorted(RULES)), width=sides, height=sides, sep=st.sampled_from(["x", "*"]))
def test_every_size_maps_to_a_valid_one(model: str, width: int, height: int, sep: str) -> None:
    r = rule(model)
    result = map_size(f"{width}{sep}{height}", r)
    if r.fixed_by_input:
        assert result is None
        return
    assert result is not None
    assert "x" not in result
    assert _valid_independently(r, result), (model, width, height, result)
    if accepts(r, width, height):
        assert result == f"{width}*{height}"  # accepted sizes pass unchanged
        return
    w, h = (int(v) for v in result.split("*"))
    if not r.is_enum:
        assert w % 16 == 0 and h % 16 == 0
        low, high = _ratio_bounds(r)
        wanted = min(max(width / height, low), high)
        # within 1/16th of the step that rounding to 16 px can cost on the short side
        assert abs(math.log((w / h) / wanted)) <= math.log(1 + 16 / min(w, h)) + 1e-9, (model, width, height, result)
    else:
        best = min(abs(math.log(int(p.split("*")[0]) / int(p.split("*")[1]) / (width / height))) for p in r.presets)
        assert abs(abs(math.log(w / h / (width / height))) - best) < 1e-9


@settings(max_examples=100, deadline=None)
@given(model=st.sampled_from(sorted(RULES)), width=sides, height=sides)
def test_mapping_is_idempotent(model: str, width: int, height: int) -> None:
    r = rule(model)
    first = map_size(f"{width}x{height}", r)
    assert first is None or map_size(first, r) == first
