"""Request building: endpoints, headers, parameter placement, fan-out, regions."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from providers.base import ImageSpec, TaskRef
from providers.dashscope.adapter import DashScopeAdapter
from providers.errors import InvalidRequest, ModelNotFound, UnsupportedParameter

CN = DashScopeAdapter(region="cn", base_url="https://dashscope.aliyuncs.com/")
INTL = DashScopeAdapter(region="intl", base_url="https://dashscope-intl.aliyuncs.com")


def body_of(model: str, adapter: DashScopeAdapter = CN, **spec: Any) -> tuple[dict[str, Any], dict[str, str], str]:
    calls = adapter.generation_calls(model, ImageSpec(prompt=spec.pop("prompt", "a cat"), **spec))
    assert len(calls) == 1
    request = calls[0].request
    assert request.body is not None
    return msgspec.json.decode(request.body), dict(request.headers), request.url


def test_sync_messages_model() -> None:
    body, headers, url = body_of("wan2.7-image", size="1792x1024")
    assert url == "https://dashscope.aliyuncs.com/api/v1/services/aigc/multimodal-generation/generation"
    assert "X-DashScope-Async" not in headers
    assert body == {
        "model": "wan2.7-image",
        "input": {"messages": [{"role": "user", "content": [{"text": "a cat"}]}]},
        "parameters": {"n": 1, "size": "1792*1024"},
    }


def test_async_prompt_model_with_negative_prompt_in_input() -> None:
    body, headers, url = body_of(
        "wanx2.1-t2i-turbo", size="1024x1024", extras={"negative_prompt": "blur", "seed": 7, "watermark": False}
    )
    assert url.endswith("/api/v1/services/aigc/text2image/image-synthesis")
    assert headers["X-DashScope-Async"] == "enable"
    assert body["input"] == {"prompt": "a cat", "negative_prompt": "blur"}
    assert body["parameters"] == {"n": 1, "size": "1024*1024", "seed": 7, "watermark": False}


def test_qwen_negative_prompt_goes_in_parameters() -> None:
    body, _, _ = body_of("qwen-image-plus", extras={"negative_prompt": "blur", "prompt_extend": False})
    assert body["parameters"] == {"n": 1, "negative_prompt": "blur", "prompt_extend": False}
    assert "negative_prompt" not in body["input"]


def test_extras_the_model_does_not_take_are_refused_by_name() -> None:
    # Dropped, they would change the image without a word.
    body, _, _ = body_of("wan2.7-image", extras={"seed": 3, "thinking_mode": False})
    assert body["parameters"] == {"n": 1, "seed": 3, "thinking_mode": False}
    for name in ("negative_prompt", "prompt_extend"):
        with pytest.raises(UnsupportedParameter) as info:
            body_of("wan2.7-image", extras={name: "x" if name == "negative_prompt" else True})
        assert info.value.param == name and "seed, watermark, thinking_mode" in info.value.message


@pytest.mark.parametrize(("field", "limit"), [("prompt", 800), ("negative_prompt", 500)])
def test_text_over_the_documented_length_is_a_400(field: str, limit: int) -> None:
    spec: dict[str, object] = {"extras": {field: "y" * (limit + 1)}} if field != "prompt" else {"prompt": "y" * 801}
    with pytest.raises(InvalidRequest) as info:
        body_of("qwen-image-2.0", **spec)
    assert info.value.param == field and str(limit) in info.value.message
    body, _, _ = body_of("qwen-image-2.0", prompt="z" * 800)
    assert body["input"]["messages"][0]["content"][-1]["text"] == "z" * 800  # never cut


def test_wanx_v1_style_only_when_it_is_wanx_style() -> None:
    body, _, _ = body_of("wanx-v1", style="<sketch>")
    assert body["parameters"]["style"] == "<sketch>"
    body, _, _ = body_of("wanx-v1", style="vivid")
    assert "style" not in body["parameters"]


def test_n_is_always_explicit() -> None:
    for model in CN.catalog.models:
        if CN.catalog.models[model].images[0] == 0:
            body, _, _ = body_of(model)
            assert body["parameters"]["n"] == 1


def test_fan_out_above_model_max() -> None:
    calls = CN.generation_calls("qwen-image-max", ImageSpec(prompt="p", n=3, extras={"seed": 2147483647}))
    bodies = [msgspec.json.decode(c.request.body or b"") for c in calls]
    assert [b["parameters"]["n"] for b in bodies] == [1, 1, 1]
    assert [b["parameters"]["seed"] for b in bodies] == [2147483647, 0, 1]  # distinct, in range
    calls = CN.generation_calls("wan2.7-image", ImageSpec(prompt="p", n=10))
    assert [c.n for c in calls] == [4, 4, 2]


def test_regional_names() -> None:
    body, _, url = body_of("wanx2.1-t2i-turbo", INTL)
    assert body["model"] == "wan2.1-t2i-turbo"
    assert url.startswith("https://dashscope-intl.aliyuncs.com/")
    body, _, _ = body_of("wan2.1-t2i-turbo", CN)  # the intl name resolves to the same model
    assert body["model"] == "wanx2.1-t2i-turbo"
    assert INTL.resolve("wanx-v1") is None
    with pytest.raises(ModelNotFound):
        INTL.generation_calls("wanx-v1", ImageSpec(prompt="p"))


@pytest.mark.parametrize(
    ("extras", "param"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": "7"}, "seed"),
        ({"seed": True}, "seed"),
        ({"seed": 2**31}, "seed"),
        ({"watermark": "no"}, "watermark"),
        ({"negative_prompt": 3}, "negative_prompt"),
    ],
)
def test_bad_extras_are_400_naming_the_field(extras: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        CN.generation_calls("wanx2.1-t2i-turbo", ImageSpec(prompt="p", extras=extras))
    assert info.value.param == param


def test_edit_only_model_needs_images() -> None:
    with pytest.raises(InvalidRequest) as info:
        CN.generation_calls("wan2.6-image", ImageSpec(prompt="p"))
    assert info.value.param == "model"


def test_poll_goes_to_the_same_regional_host() -> None:
    request = INTL.poll_request(TaskRef("abc"))
    assert request.url == "https://dashscope-intl.aliyuncs.com/api/v1/tasks/abc"
    assert request.method == "GET"


def test_download_allow_list() -> None:
    assert CN.download_allowed("https://dashscope-result-wlcb.oss-cn-wulanchabu.aliyuncs.com/1.png?Expires=1")
    assert CN.download_allowed("https://dashscope-7c2c.oss-cn-shanghai.aliyuncs.com/a/b.png")
    assert CN.download_allowed("https://dashscope.aliyuncs.com/results/x.png")
    assert not CN.download_allowed("http://dashscope-result-bj.oss-cn-beijing.aliyuncs.com/x.png")
    assert not CN.download_allowed("https://evil.example.com/dashscope-result.oss-cn.aliyuncs.com.png")
    assert not CN.download_allowed("https://169.254.169.254/latest/meta-data")
    assert not CN.download_allowed("https://dashscope.aliyuncs.com.evil.com/x.png")


@pytest.mark.parametrize(
    "url",
    [  # every region's result buckets seen (Model Studio's pages and real answers)
        "https://dashscope-result-bj.oss-cn-beijing.aliyuncs.com/1.png",
        "https://dashscope-result-sz.oss-cn-shenzhen.aliyuncs.com/1.png",
        "https://dashscope-a717.oss-accelerate.aliyuncs.com/1.png",
        "https://dashscope-result-sgp.oss-ap-southeast-1.aliyuncs.com/1.png",
        "https://dashscope-result-us.oss-us-east-1.aliyuncs.com/1.png",
        "https://dashscope-result-fra.oss-eu-central-1.aliyuncs.com/1.png",
    ],
)
def test_result_buckets_of_every_region_are_allowed(url: str) -> None:
    assert CN.download_allowed(url) and INTL.download_allowed(url)
    assert not CN.download_allowed(url.replace("https://", "https://x").replace("aliyuncs.com", "aliyuncs.com.evil.io"))
