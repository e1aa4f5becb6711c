"""The OpenAI-compatible adapter: request building, every answer shape, error mapping; no network."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from providers import registry
from providers.base import ChatProxy, HttpResponse, ImageSpec
from providers.errors import (
    ApiError,
    ContentPolicyViolation,
    InsufficientQuota,
    InvalidRequest,
    ModelNotFound,
    PermissionDenied,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInvalidParameter,
    UpstreamTimeout,
)
from providers.openai_compat.adapter import OpenAICompatAdapter
from providers.openai_compat.kind import OpenAICompatSettings
from providers.openai_compat.request import size_param

BASE = "https://api.example.com/v1"


def adapter(image_api: str = "images") -> OpenAICompatAdapter:
    return OpenAICompatAdapter(
        base_url=BASE + "/", image_models=("img",), chat_models=("txt", "img"), image_api=image_api
    )  # type: ignore[arg-type]


def answer(body: Any, status: int = 200, **headers: str) -> HttpResponse:
    return HttpResponse(status, headers, body if isinstance(body, bytes) else msgspec.json.encode(body))


def sent(call_body: bytes | None) -> dict[str, Any]:
    assert call_body is not None
    return msgspec.json.decode(call_body)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("auto", None),
        ("", None),
        ("1024x1024", "1024x1024"),
        ("1792*1024", "1792x1024"),
        (" 512 X 512 ", "512x512"),
        ("2k", "2K"),
    ],
)
def test_size_is_sent_as_openai_spells_it(raw: str | None, expected: str | None) -> None:
    assert size_param(raw) == expected


@pytest.mark.parametrize("raw", ["banana", "0x5", "1024"])
def test_bad_sizes_are_400s(raw: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        size_param(raw)
    assert info.value.param == "size"


def test_models_and_kinds() -> None:
    compat = adapter()
    assert compat.base_url == BASE
    assert [(m.id, m.kind) for m in compat.models()] == [("img", "image"), ("txt", "chat")]
    image = compat.resolve("img")
    assert image is not None and image.edits and image.images == (0, 16) and image.auto_size == "omit"
    assert compat.resolve("nope") is None
    assert isinstance(compat, ChatProxy)
    kind = registry.find("openai-compatible")
    assert kind is not None
    settings = OpenAICompatSettings(base_url=BASE, image_models=("a",))
    assert isinstance(kind.build(settings, {}), OpenAICompatAdapter)


def test_images_style_generation_and_edit() -> None:
    spec = ImageSpec(prompt="p", n=2, size="1024*1024", quality="hd", extras={"seed": 3})
    (call,) = adapter().generation_calls("img", spec)
    assert call.request.url == f"{BASE}/images/generations" and call.n == 2
    assert sent(call.request.body) == {
        "model": "img",
        "prompt": "p",
        "seed": 3,
        "n": 2,
        "size": "1024x1024",
        "quality": "hd",
    }
    edit = ImageSpec(prompt="p", images=("https://x/a.png", "data:image/png;base64,AAAA"))
    (call,) = adapter().generation_calls("img", edit)
    assert call.request.url == f"{BASE}/images/edits"
    assert sent(call.request.body)["images"] == [
        {"image_url": "https://x/a.png"},
        {"image_url": "data:image/png;base64,AAAA"},
    ]


def test_chat_style_generation() -> None:
    spec = ImageSpec(prompt="p", n=1, size="1792x1024", images=("https://x/a.png",))
    (call,) = adapter("chat").generation_calls("img", spec)
    body = sent(call.request.body)
    assert call.request.url == f"{BASE}/chat/completions"
    assert body["size"] == "1792x1024" and body["stream"] is False and body["modalities"] == ["image", "text"]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "p"}, {"type": "image_url", "image_url": {"url": "https://x/a.png"}}],
        }
    ]


def test_a_chat_model_makes_no_images() -> None:
    with pytest.raises(InvalidRequest) as info:
        adapter().generation_calls("txt", ImageSpec(prompt="p"))
    assert info.value.param == "model"
    with pytest.raises(ModelNotFound):
        adapter().generation_calls("other", ImageSpec(prompt="p"))


def test_proxy_request_renames_only_the_model() -> None:
    body = b'{"model":"peer/txt","messages":[{"role":"user","content":"hi"}],"stream":true,"x":1}'
    request = adapter().chat_request("txt", body, stream=True)
    assert request.url == f"{BASE}/chat/completions" and request.headers["Accept"] == "text/event-stream"
    assert sent(request.body) == {
        "model": "txt",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "x": 1,
    }
    same = b'{"model":"txt","messages":[]}'
    assert adapter().chat_request("txt", same, stream=False).body == same
    with pytest.raises(InvalidRequest):
        adapter().chat_request("txt", b"[1]", stream=False)


URL = "https://cdn.example.com/a.png"
SHAPES = [
    {"created": 1, "data": [{"url": URL, "revised_prompt": "rp"}], "size": "1024x768"},
    {
        "output": {"choices": [{"message": {"content": [{"type": "image", "image": URL}]}}]},
        "usage": {"size": "1024*768", "input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
    },
    {
        "success": True,
        "data": {
            "request_id": "r",
            "output": {"choices": [{"message": {"content": [{"image": URL}]}}]},
            "usage": {"width": 1024, "height": 768},
        },
    },
    {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": f"![image 1]({URL})",
                    "images": [{"type": "image_url", "image_url": {"url": URL}}],
                }
            }
        ]
    },
    {"choices": [{"message": {"content": f'Here it is:\n\n![a cat]( <{URL}> "title")'}}]},
    {"choices": [{"message": {"content": [{"type": "image_url", "image_url": URL}]}}]},
    {"output": {"results": [{"url": URL, "actual_prompt": "rp"}]}},
]


@pytest.mark.parametrize("body", SHAPES)
def test_every_answer_shape(body: dict[str, Any]) -> None:
    batch = adapter().parse_result(adapter().generation_calls("img", ImageSpec(prompt="p"))[0], answer(body))
    assert not isinstance(batch, type(None))
    assert [image.url for image in batch.images] == [URL]  # type: ignore[union-attr]


def test_sizes_usage_and_b64() -> None:
    batch = adapter().parse_result(None, answer(SHAPES[1]))  # type: ignore[arg-type]
    assert batch.size == (1024, 768) and batch.usage is not None and batch.usage.total_tokens == 5  # type: ignore[union-attr]
    b64 = adapter().parse_result(None, answer({"data": [{"b64_json": "iVBORw0KGgo="}, {"b64_json": "/9j/4AAQ"}]}))  # type: ignore[arg-type]
    assert [i.url for i in b64.images] == ["data:image/png;base64,iVBORw0KGgo=", "data:image/jpeg;base64,/9j/4AAQ"]  # type: ignore[union-attr]


def test_no_images_is_an_upstream_error_quoting_the_reply() -> None:
    with pytest.raises(UpstreamError) as info:
        adapter().parse_result(None, answer({"choices": [{"message": {"content": "I cannot draw that"}}]}))  # type: ignore[arg-type]
    assert "I cannot draw that" in info.value.message
    with pytest.raises(UpstreamError):
        adapter().parse_result(None, answer(b"<html>"))  # type: ignore[arg-type]
    with pytest.raises(UpstreamError) as err:
        adapter().parse_result(None, answer({"error": {"message": "boom", "type": "x", "code": "y"}}))  # type: ignore[arg-type]
    assert "boom" in err.value.message


def _err(status: int, body: Any, **headers: str) -> ApiError:
    return adapter().chat_error(answer(body, status, **headers))


def test_error_mapping() -> None:
    openai_error = {
        "error": {"message": "bad size", "type": "invalid_request_error", "param": "size", "code": "invalid_size"}
    }
    bad = _err(400, openai_error)
    assert isinstance(bad, UpstreamInvalidParameter) and (bad.param, bad.code) == ("size", "invalid_size")
    auth = _err(401, {"error": {"message": "Incorrect API key provided: sk-abc***xyz", "code": "invalid_api_key"}})
    assert isinstance(auth, UpstreamAuthError) and "sk-abc" not in auth.message
    unsupported = _err(
        404,
        {
            "error": {
                "message": "Unsupported model `wan2.7-image` for OpenAI compatibility mode",
                "code": "model_not_supported",
            },
            "request_id": "r1",
        },
    )
    assert isinstance(unsupported, ModelNotFound) and unsupported.code == "model_not_supported"
    assert "kind 'dashscope'" in unsupported.message and "r1" in unsupported.message
    no_route = _err(404, b"Not Found")
    assert isinstance(no_route, UpstreamError) and not no_route.retryable and "base_url" in no_route.message
    limited = _err(429, {"error": {"message": "slow down"}}, **{"retry-after": "7"})
    assert isinstance(limited, RateLimited) and limited.retry_after == 7
    assert isinstance(_err(429, {"error": {"message": "x", "code": "insufficient_quota"}}), InsufficientQuota)
    assert isinstance(_err(403, {"error": {"message": "no"}}), PermissionDenied)
    assert isinstance(
        _err(400, {"error": {"message": "x", "code": "content_policy_violation"}}), ContentPolicyViolation
    )
    native = _err(400, {"code": "InvalidParameter", "message": "n too big", "request_id": "r2"})
    assert isinstance(native, UpstreamInvalidParameter) and "n too big" in native.message
    assert _err(500, {"error": {"message": "x"}}).retryable
    assert not _err(502, {"error": {"message": "x"}}, **{"x-should-retry": "false"}).retryable
    assert isinstance(_err(504, {"error": {"message": "x"}}), UpstreamTimeout)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://cdn.example.com/a.png", True),
        ("https://api.example.com/v1/files/a.png", True),
        ("https://api.example.com:443/a.png", True),
        ("http://api.example.com:9000/a.png", False),  # its own host, another port
        ("https://api.example.com:6379/a.png", False),
        ("http://cdn.example.com/a.png", False),
        ("https://127.0.0.1/a.png", False),
        ("https://10.1.2.3/a", False),
        ("https://localhost/a", False),
        ("file:///etc/passwd", False),
        ("data:image/png;base64,AA", False),
    ],
)
def test_download_allowed(url: str, allowed: bool) -> None:
    assert adapter().download_allowed(url) is allowed


def test_polling_is_never_expected() -> None:
    with pytest.raises(UpstreamError):
        adapter().poll_request(None)  # type: ignore[arg-type]
    assert adapter().key_probe().url == f"{BASE}/models"
    assert adapter().key_probe_result(answer({}, 401)) == "invalid"
