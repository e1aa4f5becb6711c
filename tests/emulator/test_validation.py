"""DashScope's validation order and the per-model rules."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import (
    ASYNC,
    AUTH,
    GEN,
    I2I,
    MM,
    T2I,
    Client,
    assert_error,
    data_uri,
    mm_body,
    submit,
    t2i_body,
)

NO_SYNC = "current user api does not support synchronous calls"
NO_ASYNC = "current user api does not support asynchronous calls"


def test_order_auth_before_json(client: Client) -> None:
    assert_error(client.post(MM, content=b"nope"), 401, "InvalidApiKey")


def test_order_json_before_model(client: Client) -> None:
    assert_error(client.post(MM, content=b"{", headers=AUTH), 400, "InvalidParameter")
    assert_error(client.post(MM, content=b"[1]", headers=AUTH), 400, "InvalidParameter")


def test_order_model_missing_then_unknown(client: Client) -> None:
    assert_error(client.post(MM, json={"input": {}}, headers=AUTH), 400, "InvalidParameter", "Model not specified.")
    response = client.post(MM, json=mm_body("dall-e-3", "x", n=99), headers=AUTH)
    assert_error(response, 404, "ModelNotFound", "Model can not be found.")


def test_order_endpoint_mismatch_before_async_header(client: Client) -> None:
    body = t2i_body("wan2.7-image", "cat", size="bad")
    assert_error(client.post(T2I, json=body, headers=AUTH), 400, "InvalidParameter")
    assert_error(client.post(T2I, json=t2i_body("qwen-image-max", "cat"), headers=ASYNC), 400, "InvalidParameter")
    assert_error(client.post(MM, json=mm_body("wanx2.1-t2i-turbo", "cat"), headers=AUTH), 400, "InvalidParameter")
    body = {"model": "wan2.5-t2i-preview", "input": {"prompt": "x", "images": ["https://a/b.png"]}}
    assert_error(client.post(I2I, json=body, headers=ASYNC), 400, "InvalidParameter")


def test_async_only_endpoint_without_header_is_403(client: Client) -> None:
    body = t2i_body("wanx2.1-t2i-turbo", "cat", size="1024x1024")
    assert_error(client.post(T2I, json=body, headers=AUTH), 403, "AccessDenied", NO_SYNC)
    body = mm_body("wan2.6-t2i", "cat")
    assert_error(client.post(GEN, json=body, headers=AUTH), 403, "AccessDenied", NO_SYNC)


def test_sync_only_model_with_async_header_is_403(client: Client) -> None:
    body = mm_body("qwen-image-2.0", "cat", n=99)
    assert_error(client.post(MM, json=body, headers=ASYNC), 403, "AccessDenied", NO_ASYNC)
    assert_error(client.post(GEN, json=body, headers=ASYNC), 403, "AccessDenied", NO_ASYNC)


def test_order_entitlement_before_schema(client: Client) -> None:
    body = {
        "model": "qwen-image-max",
        "input": {"messages": [{"role": "user", "content": [{"text": "[emu:unpurchased]"}, {"text": "second"}]}]},
    }
    assert_error(client.post(MM, json=body, headers=AUTH), 403, "AccessDenied.Unpurchased")


def test_order_schema_before_parameters(client: Client) -> None:
    body = {
        "model": "qwen-image-max",
        "input": {"messages": [{"role": "user", "content": [{"text": "a"}]}] * 2},
        "parameters": {"n": 5},
    }
    assert_error(client.post(MM, json=body, headers=AUTH), 400, "InvalidParameter", "messages length only support 1")


def test_order_parameters_before_rate_limit(make_client: Any) -> None:
    client = make_client(enforce_limits=True)
    bad = mm_body("qwen-image-max", "cat", n=2)
    for _ in range(5):
        assert_error(client.post(MM, json=bad, headers=AUTH), 400, "InvalidParameter")
    assert client.post(MM, json=mm_body("qwen-image-max", "cat"), headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([{"image": "https://x/y.png"}], "lack of image or text"),
        ([{"text": ""}], "lack of image or text"),
        ([{"text": "a"}, {"text": "b"}], None),
        ([{"text": "a", "image": "https://x/y.png"}], None),
    ],
)
def test_messages_content_rules(client: Client, content: list[dict[str, str]], message: str | None) -> None:
    body = {"model": "qwen-image-2.0", "input": {"messages": [{"role": "user", "content": content}]}}
    assert_error(client.post(MM, json=body, headers=AUTH), 400, "InvalidParameter", message)


def test_messages_role_must_be_user_and_type_is_optional(client: Client) -> None:
    body = {
        "model": "qwen-image-2.0",
        "input": {"messages": [{"role": "system", "content": [{"text": "a"}]}]},
    }
    assert_error(client.post(MM, json=body, headers=AUTH), 400, "InvalidParameter")
    typed = {
        "model": "qwen-image-2.0",
        "input": {"messages": [{"role": "user", "content": [{"type": "text", "text": "a cat"}]}]},
        "parameters": {"n": 1},
    }
    assert client.post(MM, json=typed, headers=AUTH).status_code == 200


def test_prompt_required_on_text2image(client: Client) -> None:
    response = client.post(T2I, json={"model": "wanx2.1-t2i-turbo", "input": {}}, headers=ASYNC)
    assert_error(response, 400, "InvalidParameter")


def test_wrong_types_are_invalid_parameter(client: Client) -> None:
    response = client.post(T2I, json=t2i_body("wanx2.1-t2i-turbo", "cat", n="2"), headers=ASYNC)
    body = assert_error(response, 400, "InvalidParameter")
    assert "parameters.n" in body["message"] or "$.n" in body["message"]


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("wanx2.1-t2i-turbo", "1024x1024"),
        ("wanx2.1-t2i-turbo", "1024*"),
        ("wanx2.1-t2i-turbo", "511*1024"),
        ("wanx2.1-t2i-turbo", "1024*1441"),
        ("wanx-v1", "1024*768"),
        ("wan2.5-t2i-preview", "700*700"),
        ("wan2.5-t2i-preview", "2000*400"),
        ("wan2.2-t2i-flash", "2K"),
    ],
)
def test_text2image_size_rules_reject(client: Client, model: str, size: str) -> None:
    response = client.post(T2I, json=t2i_body(model, "cat", size=size, n=1), headers=ASYNC)
    assert_error(response, 400, "InvalidParameter")


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("wanx2.1-t2i-turbo", "1440*512"),
        ("wanx-v1", "768*1152"),
        ("wan2.5-t2i-preview", "768*768"),  # the docs disagree: lenient lower bound
        ("wan2.5-t2i-preview", "1440*1440"),
        ("qwen-image-plus", "1472*1140"),  # older spelling still accepted
        ("qwen-image", "1104*1472"),
    ],
)
def test_text2image_size_rules_accept(client: Client, model: str, size: str) -> None:
    submit(client, T2I, t2i_body(model, "cat", size=size, n=1))


@pytest.mark.parametrize(
    ("model", "params", "ok"),
    [
        ("wan2.6-t2i", {"size": "1696*960"}, True),  # an official preset below 1280*1280
        ("wan2.6-t2i", {"size": "1024*1024"}, False),
        ("qwen-image-max", {"size": "1472*1140"}, False),  # max accepts only the 1104 set
        ("qwen-image-max", {"size": "1472*1104"}, True),
        ("qwen-image-2.0", {"size": "2688*1536"}, True),
        ("qwen-image-2.0", {"size": "256*256"}, False),
        ("qwen-image-2.0", {"size": "2K"}, False),
        ("wan2.7-image", {"size": "4K"}, False),
        ("wan2.7-image-pro", {"size": "4K"}, True),
        ("wan2.7-image-pro", {"size": "4096*4096"}, True),
        ("wan2.7-image", {"size": "4096*4096"}, False),
        ("wan2.7-image", {"size": "3000*300"}, False),
        ("wan2.7-image", {"size": "1024x1024"}, False),
    ],
)
def test_sync_size_rules(client: Client, model: str, params: dict[str, Any], ok: bool) -> None:
    response = client.post(MM, json=mm_body(model, "cat", n=1, **params), headers=AUTH)
    if ok:
        assert response.status_code == 200, response.text
    else:
        assert_error(response, 400, "InvalidParameter")


def test_pro_4k_only_for_pure_text_to_image(client: Client) -> None:
    body = mm_body("wan2.7-image-pro", "cat", data_uri(512, 512), n=1, size="4K")
    assert_error(client.post(MM, json=body, headers=AUTH), 400, "InvalidParameter")
    body = mm_body("wan2.7-image-pro", "cat", n=1, size="4K", enable_sequential=True)
    assert_error(client.post(MM, json=body, headers=AUTH), 400, "InvalidParameter")


@pytest.mark.parametrize(
    ("model", "n", "ok"),
    [
        ("qwen-image-max", 1, True),
        ("qwen-image-max", 2, False),
        ("qwen-image-plus", 2, False),
        ("qwen-image-2.0", 6, True),
        ("qwen-image-2.0", 7, False),
        ("wan2.6-t2i", 4, True),
        ("wan2.6-t2i", 5, False),
        ("wan2.7-image", 0, False),
    ],
)
def test_n_ranges(client: Client, model: str, n: int, ok: bool) -> None:
    response = client.post(MM, json=mm_body(model, "cat", n=n), headers=AUTH)
    assert response.status_code == (200 if ok else 400), response.text


def test_wan27_sequential_allows_up_to_12(client: Client) -> None:
    ok = client.post(MM, json=mm_body("wan2.7-image", "set", n=12, enable_sequential=True), headers=AUTH)
    assert len(ok.json()["output"]["choices"]) == 12
    bad = client.post(MM, json=mm_body("wan2.7-image", "set", n=13, enable_sequential=True), headers=AUTH)
    assert_error(bad, 400, "InvalidParameter")
    assert_error(client.post(MM, json=mm_body("wan2.7-image", "set", n=5), headers=AUTH), 400, "InvalidParameter")


def test_text2image_n_range(client: Client) -> None:
    assert_error(client.post(T2I, json=t2i_body("wanx-v1", "x", n=5), headers=ASYNC), 400, "InvalidParameter")


def test_seed_range(client: Client) -> None:
    for seed in (-1, 2147483648):
        response = client.post(MM, json=mm_body("qwen-image-max", "cat", seed=seed), headers=AUTH)
        assert_error(response, 400, "InvalidParameter")
    assert client.post(MM, json=mm_body("qwen-image-max", "cat", seed=2147483647), headers=AUTH).status_code == 200


def test_wanx_v1_style_and_ref(client: Client) -> None:
    assert_error(client.post(T2I, json=t2i_body("wanx-v1", "x", style="anime"), headers=ASYNC), 400, "InvalidParameter")
    submit(client, T2I, t2i_body("wanx-v1", "x", style="<anime>", n=1))
    bad = client.post(T2I, json=t2i_body("wanx-v1", "x", ref_strength=1.5), headers=ASYNC)
    assert_error(bad, 400, "InvalidParameter")
    bad = client.post(T2I, json=t2i_body("wanx-v1", "x", ref_mode="copy"), headers=ASYNC)
    assert_error(bad, 400, "InvalidParameter")


@pytest.mark.parametrize(
    ("model", "images", "ok"),
    [
        ("wan2.6-t2i", 1, False),  # text only
        ("wan2.6-image", 0, False),  # edit mode needs 1-4
        ("wan2.6-image", 4, True),
        ("wan2.6-image", 5, False),
        ("wan2.7-image", 9, True),
        ("wan2.7-image", 10, False),
        ("qwen-image-edit-plus", 0, False),
        ("qwen-image-edit-plus", 3, True),
        ("qwen-image-edit-plus", 4, False),
        ("qwen-image-2.0", 3, True),
        ("qwen-image-2.0", 4, False),
        ("qwen-image-max", 1, False),
    ],
)
def test_image_count_bounds(client: Client, model: str, images: int, ok: bool) -> None:
    urls = [f"https://example.com/{i}.png" for i in range(images)]
    response = client.post(MM, json=mm_body(model, "edit", *urls, n=1), headers=AUTH)
    assert response.status_code == (200 if ok else 400), response.text


def test_wan26_interleave_rules(client: Client) -> None:
    body = mm_body("wan2.6-image", "story", n=2, enable_interleave=True)
    response = client.post(MM, json=body, headers={**AUTH, "X-DashScope-SSE": "enable"})
    assert response.status_code == 400
    assert "num_images_per_prompt must be 1" in response.text
    body = mm_body("wan2.6-image", "story", n=1, enable_interleave=True)
    assert_error(client.post(MM, json=body, headers=AUTH), 400, "InvalidParameter")  # sync needs SSE
    task_id = submit(client, GEN, mm_body("wan2.6-image", "story", n=1, enable_interleave=True, max_images=2))
    assert task_id
    body = mm_body("wan2.6-image", "story", n=1, enable_interleave=True, max_images=6)
    assert_error(client.post(GEN, json=body, headers=ASYNC), 400, "InvalidParameter")


def test_data_uri_images_are_checked(client: Client) -> None:
    def post(model: str, image: str) -> Any:
        return client.post(MM, json=mm_body(model, "edit", image, n=1), headers=AUTH)

    assert post("wan2.7-image", data_uri(512, 512)).status_code == 200
    assert post("wan2.7-image", data_uri(512, 512, "JPEG")).status_code == 200
    assert_error(post("wan2.7-image", data_uri(100, 512)), 400, "InvalidParameter")  # side < 240
    assert_error(post("wan2.7-image", data_uri(2400, 250)), 400, "InvalidParameter")  # ratio > 8
    assert_error(post("wan2.7-image", data_uri(512, 512, mode="RGBA")), 400, "InvalidParameter")  # alpha
    assert_error(post("wan2.7-image", data_uri(512, 512, "GIF", mode="P")), 400, "InvalidParameter")
    assert post("qwen-image-edit-plus", data_uri(512, 512, "GIF", mode="P")).status_code == 200
    assert_error(post("wan2.7-image", "data:image/png;base64,!!!!"), 400, "InvalidParameter")
    assert_error(post("wan2.7-image", "data:image/png;base64,aGVsbG8="), 400, "InvalidParameter")  # not an image
    mislabeled = data_uri(512, 512, "JPEG").replace("image/jpeg", "image/png")
    assert post("wan2.7-image", mislabeled).status_code == 200  # format is read from magic bytes


def test_data_uri_size_limit(client: Client) -> None:
    big = "data:image/png;base64," + "A" * (14 * 1024 * 1024)  # about 10.5 MB once decoded
    response = client.post(MM, json=mm_body("qwen-image-edit-plus", "edit", big, n=1), headers=AUTH)
    assert_error(response, 400, "InvalidParameter")
    assert "MB" in response.json()["message"]


def test_url_schemes(client: Client) -> None:
    def post(image: str, headers: dict[str, str]) -> Any:
        return client.post(MM, json=mm_body("qwen-image-edit-plus", "edit", image, n=1), headers=headers)

    assert post("http://example.com/a.png", AUTH).status_code == 200
    for bad in ("ftp://example.com/a.png", "example.com/a.png", "file:///etc/passwd", "oss://bucket/a.png"):
        assert_error(post(bad, AUTH), 400, "InvalidParameter", "url error, please check url!")
    resolved = {**AUTH, "X-DashScope-OssResourceResolve": "enable"}
    assert post("oss://dashscope-instant/abc/a.png", resolved).status_code == 200


def test_image2image_models(client: Client) -> None:
    body: dict[str, Any] = {
        "model": "wan2.5-i2i-preview",
        "input": {"prompt": "merge", "images": ["https://a/1.png"]},
        "parameters": {"n": 1, "size": "1280*1280"},
    }
    submit(client, I2I, body)
    body["input"]["images"] = []
    assert_error(client.post(I2I, json=body, headers=ASYNC), 400, "InvalidParameter")
    edit: dict[str, Any] = {
        "model": "wanx2.1-imageedit",
        "input": {
            "function": "description_edit_with_mask",
            "prompt": "vase",
            "base_image_url": "https://a/base.png",
        },
        "parameters": {"n": 1},
    }
    assert_error(client.post(I2I, json=edit, headers=ASYNC), 400, "InvalidParameter")  # mask missing
    edit["input"]["mask_image_url"] = "https://a/mask.png"
    submit(client, I2I, edit)
    edit["input"]["function"] = "paint"
    assert_error(client.post(I2I, json=edit, headers=ASYNC), 400, "InvalidParameter")


def test_wan27_palette_and_bbox(client: Client) -> None:
    palette = [
        {"hex": "#C2D1E6", "ratio": "50.00%"},
        {"hex": "#000000", "ratio": "30.00%"},
        {"hex": "#FFFFFF", "ratio": "20.00%"},
    ]
    assert client.post(MM, json=mm_body("wan2.7-image", "p", n=1, color_palette=palette), headers=AUTH).is_success
    short = mm_body("wan2.7-image", "p", n=1, color_palette=palette[:2])
    assert_error(client.post(MM, json=short, headers=AUTH), 400, "InvalidParameter")
    wrong_sum = [*palette[:2], {"hex": "#FFFFFF", "ratio": "10.00%"}]
    assert_error(
        client.post(MM, json=mm_body("wan2.7-image", "p", n=1, color_palette=wrong_sum), headers=AUTH),
        400,
        "InvalidParameter",
    )
    boxed = mm_body("wan2.7-image", "p", "https://a/1.png", n=1, bbox_list=[[[0, 0, 10, 10]]])
    assert client.post(MM, json=boxed, headers=AUTH).is_success
    boxed = mm_body("wan2.7-image", "p", "https://a/1.png", n=1, bbox_list=[[], []])
    assert_error(client.post(MM, json=boxed, headers=AUTH), 400, "InvalidParameter")
    for mode in (True, "fast"):
        assert client.post(MM, json=mm_body("wan2.7-image", "p", n=1, thinking_mode=mode), headers=AUTH).is_success
    assert_error(
        client.post(MM, json=mm_body("wan2.7-image", "p", n=1, thinking_mode="max"), headers=AUTH),
        400,
        "InvalidParameter",
    )


def test_unknown_parameters_are_ignored(client: Client) -> None:
    body = mm_body("wan2.7-image", "cat", n=1, prompt_extend=True, negative_prompt="blur", brand_new=1)
    assert client.post(MM, json=body, headers=AUTH).status_code == 200


def test_regions_have_their_own_names(client: Client, intl: Client) -> None:
    submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "cat", n=1))
    submit(intl, T2I, t2i_body("wan2.1-t2i-turbo", "cat", n=1))
    submit(intl, T2I, t2i_body("wan2.1-t2i-plus", "cat", n=1))
    for model in ("wanx2.1-t2i-turbo", "wanx2.1-t2i-plus", "wanx-v1", "wanx2.0-t2i-turbo"):
        response = intl.post(T2I, json=t2i_body(model, "cat", n=1), headers=ASYNC)
        assert_error(response, 404, "ModelNotFound")
    edit = {
        "model": "wanx2.1-imageedit",
        "input": {"function": "expand", "prompt": "x", "base_image_url": "https://a"},
    }
    assert_error(intl.post(I2I, json=edit, headers=ASYNC), 404, "ModelNotFound")
    assert_error(client.post(T2I, json=t2i_body("wan2.1-t2i-turbo", "cat"), headers=ASYNC), 404, "ModelNotFound")


def test_prompt_is_truncated_silently(client: Client) -> None:
    long = "x" * 900
    task_id = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", long, n=1, prompt_extend=False))
    result = client.get(f"/api/v1/tasks/{task_id}", headers=AUTH).json()["output"]["results"][0]
    assert result["orig_prompt"] == "x" * 800
    assert "actual_prompt" not in result


def test_unknown_marker_is_rejected(client: Client) -> None:
    response = client.post(MM, json=mm_body("qwen-image-max", "cat [emu:no-such]"), headers=AUTH)
    assert_error(response, 400, "InvalidParameter")
    response = client.post(MM, json=mm_body("qwen-image-max", "cat [emu:flaky=x]"), headers=AUTH)
    assert_error(response, 400, "InvalidParameter")
