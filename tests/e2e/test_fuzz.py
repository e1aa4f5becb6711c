"""A fuzz of every route's bodies: whatever a client sends, the answer is an OpenAI-shaped 4xx or a success.

Never a 5xx, never a traceback in an answer or in the gateway's log. The bodies mix
the fields each route knows (with values of every type) with junk, as JSON, as raw
bytes and, for edits, as multipart forms with files that are and are not images.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.conftest import GatewayFactory
from tests.servers import Server

IMAGE_FIELDS = [
    "model", "prompt", "n", "size", "quality", "style", "response_format", "user", "stream", "background",
    "output_format", "output_compression", "moderation", "partial_images", "negative_prompt", "seed",
    "prompt_extend", "watermark", "thinking_mode",
]  # fmt: skip
EDIT_FIELDS = [*IMAGE_FIELDS, "image", "images", "mask", "input_fidelity"]
CHAT_FIELDS = ["model", "messages", "n", "size", "quality", "stream", "stream_options", "modalities", "image_config"]
MODELS = ["qwen-image-2.0", "wan2.7-image", "wanx2.1-t2i-turbo", "qwen-image-edit-plus", "dall-e-3", "nope", ""]
EXAMPLES = 120

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["1024x1024", "1792x1024", "auto", "2K", "0x0", "url", "b64_json", "png", "webp", "high"])
    | st.sampled_from(MODELS)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _png(size: tuple[int, int] = (300, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


PNG = _png()
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "tool", 5]), "content": values | st.text(max_size=30)}
)


def bodies(fields: list[str], **known: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    def strategy(name: str) -> st.SearchStrategy[Any]:
        return known.get(name, values) | values

    return st.one_of(
        st.dictionaries(st.sampled_from(fields), st.deferred(lambda: values), max_size=6).flatmap(
            lambda d: st.fixed_dictionaries({k: strategy(k) for k in d})
        ),
        st.fixed_dictionaries(
            {"model": st.sampled_from(MODELS), "prompt": st.text(max_size=30)},
            optional={name: strategy(name) for name in fields if name not in ("model", "prompt")},
        ),
        values,
    )


def _check(answer: httpx.Response, sent: object) -> None:
    assert answer.status_code < 500, (answer.status_code, answer.text[:500], repr(sent)[:500])
    assert "Traceback" not in answer.text
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, answer.text
        assert isinstance(error["message"], str) and error["message"]


@pytest.fixture(scope="module")
def fuzzed(gateway_factory: GatewayFactory) -> Server:
    # Its own gateway, so its log holds only what the fuzz caused.
    return gateway_factory(deadline=10)


@pytest.fixture(scope="module")
def http(fuzzed: Server) -> httpx.Client:
    with httpx.Client(base_url=fuzzed.url, timeout=30) as client:
        yield client  # type: ignore[misc]


_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@_SETTINGS
@given(body=bodies(IMAGE_FIELDS))
def test_generations(http: httpx.Client, body: object) -> None:
    _check(http.post("/v1/images/generations", json=body), body)


@_SETTINGS
@given(
    body=bodies(
        EDIT_FIELDS, image=st.just("data:image/png;base64,iVBORw0KGgo=") | st.just(["https://example.com/a.png"])
    )
)
def test_edits_as_json(http: httpx.Client, body: object) -> None:
    _check(http.post("/v1/images/edits", json=body), body)


files = st.lists(
    st.tuples(
        st.sampled_from(["image", "image[]", "mask", "images"]),
        st.sampled_from([PNG, PNG[:100], b"", b"GIF89a", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, _png((5000, 10))]),
        st.sampled_from(["image/png", "application/octet-stream", "text/plain"]),
    ),
    max_size=3,
)
form = st.dictionaries(
    st.sampled_from(EDIT_FIELDS),
    st.text(max_size=20) | st.sampled_from(["2", "true", "-1", "1024x1024", "qwen-image-edit-plus"]),
    max_size=6,
)


@_SETTINGS
@given(fields=form, uploads=files)
def test_edits_as_multipart(http: httpx.Client, fields: dict[str, str], uploads: list[tuple[str, bytes, str]]) -> None:
    data = {"prompt": "p", "model": "qwen-image-edit-plus", **fields}
    answer = http.post(
        "/v1/images/edits", data=data, files=[(name, ("f.png", content, ctype)) for name, content, ctype in uploads]
    )
    _check(answer, (fields, [(n, len(c), t) for n, c, t in uploads]))


@_SETTINGS
@given(body=bodies(CHAT_FIELDS, messages=st.lists(message, max_size=3)))
def test_chat(http: httpx.Client, body: object) -> None:
    _check(http.post("/v1/chat/completions", json=body), body)


@_SETTINGS
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_raw_bodies(http: httpx.Client, raw: bytes) -> None:
    for path in ("/v1/images/generations", "/v1/images/edits", "/v1/chat/completions"):
        _check(http.post(path, content=raw, headers={"content-type": "application/json"}), raw)


@_SETTINGS
@given(name=st.text(max_size=60))
def test_lookups(http: httpx.Client, name: str) -> None:
    for method, path in (("GET", "/v1/models/"), ("GET", "/v1/images/jobs/"), ("DELETE", "/v1/images/jobs/")):
        answer = http.request(method, path + quote(name, safe=""))
        assert answer.status_code < 500, (method, name, answer.text[:300])
        assert "Traceback" not in answer.text


def test_zz_the_gateway_logged_no_traceback(fuzzed: Server) -> None:
    log = fuzzed.output()
    assert "Traceback" not in log, log[log.find("Traceback") - 500 :][:3000]
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines and not [line for line in lines if line.get("level") in ("ERROR", "CRITICAL")]
