"""Helpers for the emulator tests: an in-process client per config and request builders."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from litestar.testing import TestClient
from PIL import Image

from providers.dashscope.emulator import EmulatorConfig, create_app

AIGC = "/api/v1/services/aigc"
T2I = f"{AIGC}/text2image/image-synthesis"
I2I = f"{AIGC}/image2image/image-synthesis"
GEN = f"{AIGC}/image-generation/generation"
MM = f"{AIGC}/multimodal-generation/generation"
KEY = "sk-0123456789abcdef0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
ASYNC = {**AUTH, "X-DashScope-Async": "enable"}

Client = TestClient[Any]


def messages(text: str, *images: str) -> dict[str, Any]:
    content: list[dict[str, str]] = [{"image": image} for image in images]
    content.append({"text": text})
    return {"messages": [{"role": "user", "content": content}]}


def mm_body(model: str, text: str, *images: str, **parameters: Any) -> dict[str, Any]:
    return {"model": model, "input": messages(text, *images), "parameters": parameters}


def t2i_body(model: str, prompt: str, **parameters: Any) -> dict[str, Any]:
    return {"model": model, "input": {"prompt": prompt}, "parameters": parameters}


def data_uri(width: int, height: int, fmt: str = "PNG", mode: str = "RGB") -> str:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), (200, 10, 10) if mode == "RGB" else None).save(buffer, format=fmt)
    mime = {"PNG": "png", "JPEG": "jpeg", "GIF": "gif", "WEBP": "webp", "BMP": "bmp", "TIFF": "tiff"}[fmt]
    return f"data:image/{mime};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def png_size(content: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(content)) as img:
        img.load()
        return img.size


def submit(client: Client, path: str, body: dict[str, Any]) -> str:
    response = client.post(path, json=body, headers=ASYNC)
    assert response.status_code == 200, response.text
    output = response.json()["output"]
    assert output["task_status"] == "PENDING"
    return str(output["task_id"])


def task(client: Client, task_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/tasks/{task_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["x-request-id"] == body["request_id"]
    return body


def advance(client: Client, seconds: float) -> None:
    assert client.post("/__emulator__/clock", json={"advance_seconds": seconds}).status_code == 200


def assert_error(response: Any, status: int, code: str, message: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert set(body) == {"code", "message", "request_id"}
    assert response.headers["x-request-id"] == body["request_id"]
    if message is not None:
        assert body["message"] == message
    return body


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    with ExitStack() as stack:

        def factory(**config: Any) -> Client:
            return stack.enter_context(TestClient(create_app(EmulatorConfig(**config))))

        yield factory


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    return make_client()


@pytest.fixture
def intl(make_client: Callable[..., Client]) -> Client:
    return make_client(region="intl")
