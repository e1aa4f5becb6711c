"""models.list() and models.retrieve() through the official openai SDK."""

from __future__ import annotations

import openai
import pytest

from providers.dashscope.catalog import load_catalog
from tests.conftest import GatewayFactory, openai_client
from tests.servers import Server

CATALOG = load_catalog()


def test_list_has_every_routable_name_with_capabilities(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    cn = {m for m, e in CATALOG.models.items() if "cn" in e.names}
    intl = {m for m, e in CATALOG.models.items() if "intl" in e.names}
    assert cn <= set(models)  # the default provider's, bare
    assert {f"dashscope/{m}" for m in cn} <= set(models)
    assert {f"dashscope-intl/{m}" for m in intl} <= set(models)
    assert not {f"dashscope-intl/{m}" for m in cn - intl} & set(models)
    wan = models["wan2.7-image"]
    assert wan.object == "model" and wan.owned_by == "dashscope" and isinstance(wan.created, int)
    caps = (wan.model_extra or {})["capabilities"]
    assert caps["type"] == "image" and caps["sync"] and caps["async"] and caps["edits"] and caps["generations"]
    assert (caps["max_n"], caps["max_n_per_call"], caps["max_input_images"]) == (10, 4, 9)
    assert "W/H between 0.125 and 8" in caps["size_rule"]
    edit = (models["qwen-image-edit-plus"].model_extra or {})["capabilities"]
    assert (edit["generations"], edit["edits"], edit["min_input_images"], edit["max_input_images"]) == (
        False,
        True,
        1,
        3,
    )
    assert edit["max_input_image_bytes"] == 10 * 1024 * 1024
    i2i = (models["dashscope-intl/wan2.5-i2i-preview"].model_extra or {})["capabilities"]
    assert (i2i["sync"], i2i["async"], i2i["edits"]) == (False, True, True)
    assert models["dashscope-intl/wan2.5-i2i-preview"].owned_by == "dashscope-intl"
    t2i = (models["wanx-v1"].model_extra or {})["capabilities"]
    assert (t2i["edits"], t2i["max_input_images"], t2i["max_input_image_bytes"]) == (False, 0, None)


@pytest.mark.parametrize(
    ("name", "owner"),
    [("wan2.7-image", "dashscope"), ("dashscope-intl/wan2.7-image", "dashscope-intl"), ("qwen-image-max", "dashscope")],
)
def test_retrieve(client: openai.OpenAI, name: str, owner: str) -> None:
    model = client.models.retrieve(name)
    assert (model.id, model.owned_by, model.object) == (name, owner, "model")
    assert (model.model_extra or {})["capabilities"]["type"] == "image"


@pytest.mark.parametrize("name", ["dall-e-9", "dashscope-intl/wanx-v1", "nope/x"])
def test_retrieve_unknown_is_404(client: openai.OpenAI, name: str) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve(name)
    assert info.value.code == "model_not_found" and info.value.param == "model"


def test_a_weighted_route_is_described_the_same_every_time(gateway_factory: GatewayFactory) -> None:
    extra = """
routes:
  balanced:
    targets:
      - {provider: dashscope, model: wan2.7-image, weight: 1}
      - {provider: dashscope-intl, model: wan2.7-image, weight: 1}
"""
    client = openai_client(gateway_factory(extra=extra))
    owners = {client.models.retrieve("balanced").owned_by for _ in range(20)}
    owners |= {m.owned_by for _ in range(10) for m in client.models.list() if m.id == "balanced"}
    assert owners == {"dashscope"}


def test_capabilities_show_masks_and_options(gateway: Server) -> None:
    client = openai_client(gateway)
    cards = {m.id: m.model_dump()["capabilities"] for m in client.models.list()}
    assert cards["wanx2.1-imageedit"]["masks"] is True and "function" in cards["wanx2.1-imageedit"]["options"]
    assert cards["wan2.7-image"]["masks"] is False
    assert {"enable_sequential", "bbox_list", "color_palette"} <= set(cards["wan2.7-image"]["options"])
    assert {"prompt_extend_mode", "enable_thinking"} <= set(cards["qwen-image-3.0"]["options"])
