"""wan2.7's image sets, box-targeted edits and colour palettes through extra_body."""

from __future__ import annotations

import json

import openai
import pytest

from tests.conftest import openai_client
from tests.e2e.inputs import emulator_posts, upload
from tests.servers import Server

PALETTE = [{"hex": "#C0392B", "ratio": "50.00%"}, {"hex": "#2980B9", "ratio": 30}, {"hex": "#F1C40F", "ratio": "20%"}]


@pytest.fixture(scope="module")
def client(gateway: Server) -> openai.OpenAI:
    return openai_client(gateway)


def test_an_image_set_is_one_call_and_every_image_comes_back(client: openai.OpenAI, cn: Server) -> None:
    result = client.images.generate(
        model="wan2.7-image", prompt="a four-panel story of a fox", n=6, extra_body={"enable_sequential": True}
    )
    (sent,) = emulator_posts(cn.url)  # no fan-out: n is the set's maximum
    assert sent["json"]["parameters"]["n"] == 6 and sent["json"]["parameters"]["enable_sequential"] is True
    assert result.data is not None and 1 <= len(result.data) <= 6
    assert all(d.url for d in result.data)


def test_a_palette_is_sent_in_the_documented_form(client: openai.OpenAI, cn: Server) -> None:
    client.images.generate(model="wan2.7-image", prompt="p", extra_body={"color_palette": PALETTE})
    (sent,) = emulator_posts(cn.url)
    assert [c["ratio"] for c in sent["json"]["parameters"]["color_palette"]] == ["50.00%", "30.00%", "20.00%"]


def test_boxes_go_with_their_images(client: openai.OpenAI, cn: Server) -> None:
    client.images.edit(
        model="wan2.7-image",
        image=[upload(800, 600), upload(800, 600)],
        prompt="replace the boxed object with a lamp",
        # Multipart bodies carry structured values as JSON text.
        extra_body={"bbox_list": json.dumps([[], [[100, 100, 300, 250]]])},
    )
    (sent,) = emulator_posts(cn.url)
    assert sent["json"]["parameters"]["bbox_list"] == [[], [[100, 100, 300, 250]]]


def test_a_flattened_structure_is_refused_not_misread(client: openai.OpenAI, cn: Server) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.images.edit(
            model="wan2.7-image",
            image=[upload(800, 600), upload(800, 600)],
            prompt="p",
            extra_body={"bbox_list": [[], [[100, 100, 300, 250]]]},  # the SDK flattens it: bbox_list[][][]=100
        )
    assert info.value.param == "bbox_list" and "JSON" in info.value.message
    assert emulator_posts(cn.url) == []


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"color_palette": PALETTE[:2]}, "color_palette"),
        ({"color_palette": [*PALETTE[:2], {"hex": "#000000", "ratio": "25%"}]}, "color_palette"),
        ({"color_palette": [{"hex": "red", "ratio": "50%"}, *PALETTE[1:]]}, "color_palette"),
        ({"color_palette": PALETTE, "enable_sequential": True}, "color_palette"),
        ({"bbox_list": [[[1, 1, 5, 5]], []]}, "bbox_list"),
        ({"bbox_list": [[[1, 1, 5, 5], [2, 2, 6, 6], [3, 3, 7, 7]]]}, "bbox_list"),
        ({"bbox_list": [[[5, 5, 1, 1]]]}, "bbox_list"),
        ({"enable_sequential": "yes"}, "enable_sequential"),
        ({"color_palette": [{"hex": "#000000", "ratio": "nan"}, *PALETTE[1:]]}, "color_palette"),
        ({"color_palette": [{"hex": "#000000", "ratio": -50}, *PALETTE[1:]]}, "color_palette"),
        ({"bbox_list": [[[1, 1, 5, 2**40]]]}, "bbox_list"),
    ],
)
def test_bad_options_are_400s_naming_them(client: openai.OpenAI, cn: Server, extra: dict, param: str) -> None:  # type: ignore[type-arg]
    as_form = {k: json.dumps(v) if isinstance(v, list) else v for k, v in extra.items()}
    with pytest.raises(openai.BadRequestError) as info:
        client.images.edit(model="wan2.7-image", image=upload(800, 600), prompt="p", extra_body=as_form)
    assert info.value.param == param, info.value.message
    assert emulator_posts(cn.url) == []


def test_models_without_sets_refuse_them(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="qwen-image-2.0", prompt="p", extra_body={"enable_sequential": True})
    assert info.value.param == "enable_sequential"
