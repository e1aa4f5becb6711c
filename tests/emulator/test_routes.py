"""Auth, unknown paths, request ids, control routes, task list, compatible mode."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

from .conftest import ASYNC, AUTH, KEY, MM, T2I, Client, advance, assert_error, mm_body, submit, t2i_body


def test_missing_key_is_401_no_key(client: Client) -> None:
    response = client.get(f"/api/v1/tasks/{uuid.uuid4()}")
    assert_error(response, 401, "InvalidApiKey", "No API-key provided.")


@pytest.mark.parametrize("header", ["Bearer sk-sp-abc123", "Basic abc", "sk-plain-no-scheme"])
def test_dev_mode_rejects_coding_plan_and_malformed(client: Client, header: str) -> None:
    response = client.get(f"/api/v1/tasks/{uuid.uuid4()}", headers={"Authorization": header})
    assert_error(response, 401, "InvalidApiKey", "Invalid API-key provided.")


def test_dev_mode_accepts_any_bearer_and_unknown_task_is_unknown(client: Client) -> None:
    task_id = str(uuid.uuid4())
    response = client.get(f"/api/v1/tasks/{task_id}", headers={"Authorization": "Bearer whatever"})
    assert response.status_code == 200
    assert response.json()["output"] == {"task_id": task_id, "task_status": "UNKNOWN"}


def test_configured_keys_only(make_client: Callable[..., Client]) -> None:
    client = make_client(api_keys=(KEY,))
    assert client.get("/api/v1/tasks/x", headers=AUTH).status_code == 200
    other = client.get("/api/v1/tasks/x", headers={"Authorization": "Bearer sk-other"})
    assert_error(other, 401, "InvalidApiKey", "Invalid API-key provided.")
    body = mm_body("qwen-image-max", "cat")
    assert_error(client.post(MM, json=body), 401, "InvalidApiKey", "No API-key provided.")


def test_unknown_path_is_native_404_with_request_id(client: Client) -> None:
    response = client.get("/api/v1/services/aigc/nope", headers=AUTH)
    assert_error(response, 404, "NotFound")


def test_images_generations_is_plain_404_by_default(client: Client) -> None:
    response = client.post("/compatible-mode/v1/images/generations", json={"model": "qwen-image-max"}, headers=AUTH)
    assert_error(response, 404, "NotFound")


def test_every_response_has_request_id(client: Client) -> None:
    for response in (
        client.get("/__emulator__/stats"),
        client.get("/compatible-mode/v1/models", headers=AUTH),
        client.post(MM, json=mm_body("qwen-image-max", "cat"), headers=AUTH),
    ):
        assert response.headers["x-request-id"]


def test_request_log_drops_authorization_and_clears(client: Client) -> None:
    body = t2i_body("wanx2.1-t2i-turbo", "a cat", n=1)
    submit(client, T2I, body)
    log = client.get("/__emulator__/requests").json()
    assert log[-1]["method"] == "POST"
    assert log[-1]["path"] == T2I
    assert log[-1]["json"] == body
    assert log[-1]["headers"]["x-dashscope-async"] == "enable"
    assert "authorization" not in {k.lower() for k in log[-1]["headers"]}
    assert KEY not in json.dumps(log)
    assert client.delete("/__emulator__/requests").status_code == 204
    assert client.get("/__emulator__/requests").json() == []


def test_request_log_can_be_off(make_client: Callable[..., Client]) -> None:
    client = make_client(record_requests=False)
    submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "a cat", n=1))
    assert client.get("/__emulator__/requests").json() == []


def test_stats_count_submits_syncs_polls_downloads(client: Client) -> None:
    task_id = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "a cat", n=1))
    client.get(f"/api/v1/tasks/{task_id}", headers=AUTH)
    url = client.get(f"/api/v1/tasks/{task_id}", headers=AUTH).json()["output"]["results"][0]["url"]
    client.get(url)
    client.post(MM, json=mm_body("qwen-image-max", "cat"), headers=AUTH)
    stats = client.get("/__emulator__/stats").json()
    assert stats["submits"] == 1
    assert stats["tasks_created"] == 1
    assert stats["sync_calls"] == 1
    assert stats["polls"] == {task_id: 2}
    assert stats["downloads"] == 1
    assert stats["models"] == {"wanx2.1-t2i-turbo": 1, "qwen-image-max": 1}


def test_clock_route_validates_body(client: Client) -> None:
    assert_error(client.post("/__emulator__/clock", json={"advance_seconds": -1}), 400, "InvalidParameter")
    assert_error(client.post("/__emulator__/clock", json={"nope": 1}), 400, "InvalidParameter")


def test_task_list_filters_and_pages(client: Client) -> None:
    ids = [submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", f"cat {i}", n=1)) for i in range(3)]
    submit(client, T2I, t2i_body("wanx-v1", "dog", n=1))
    body = client.get("/api/v1/tasks", params={"model_name": "wanx2.1-t2i-turbo", "page_size": 2}, headers=AUTH)
    listing = body.json()
    assert listing["total"] == 3
    assert listing["total_page"] == 2
    assert [row["task_id"] for row in listing["data"]] == ids[::-1][:2]
    row = listing["data"][0]
    assert row["status"] == "SUCCEEDED"
    assert row["region"] == "cn-beijing"
    assert isinstance(row["gmt_create"], int)
    assert KEY not in json.dumps(listing)
    assert client.get("/api/v1/tasks", params={"status": "PENDING"}, headers=AUTH).json()["total"] == 0
    bad = client.get("/api/v1/tasks", params={"start_time": "2024-01-01"}, headers=AUTH)
    assert_error(bad, 400, "InvalidParameter")
    advance(client, 25 * 3600)
    assert client.get("/api/v1/tasks", headers=AUTH).json()["total"] == 0


def test_compat_models_lists_regional_names(client: Client, intl: Client) -> None:
    cn = {m["id"] for m in client.get("/compatible-mode/v1/models", headers=AUTH).json()["data"]}
    sg = {m["id"] for m in intl.get("/compatible-mode/v1/models", headers=AUTH).json()["data"]}
    assert {"wanx2.1-t2i-turbo", "wanx-v1", "qwen-image-2.0", "qwen-plus"} <= cn
    assert {"wan2.1-t2i-turbo", "qwen-image-2.0", "qwen-plus"} <= sg
    assert not {"wanx2.1-t2i-turbo", "wanx-v1", "wanx2.0-t2i-turbo", "wanx2.1-imageedit"} & sg


def test_compat_auth_error_shape(client: Client) -> None:
    response = client.get("/compatible-mode/v1/models", headers={"Authorization": "Bearer sk-sp-x"})
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "invalid_api_key"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["request_id"] == response.headers["x-request-id"]


def test_compat_chat_rejects_image_models(client: Client) -> None:
    body = {"model": "wan2.7-image", "messages": [{"role": "user", "content": "draw"}]}
    response = client.post("/compatible-mode/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": "Unsupported model `wan2.7-image` for OpenAI compatibility mode",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_supported",
    }
    body["model"] = "no-such-model"
    missing = client.post("/compatible-mode/v1/chat/completions", json=body, headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"


def test_compat_chat_echoes_last_user_message(client: Client) -> None:
    body = {
        "model": "qwen-plus",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "ping pong"}]},
        ],
    }
    response = client.post("/compatible-mode/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 200
    completion = response.json()
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": "ping pong"}
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"]["total_tokens"] > 0


def test_compat_chat_streams_chunks_then_done(client: Client) -> None:
    body = {
        "model": "qwen-turbo",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "one two three"}],
    }
    response = client.post("/compatible-mode/v1/chat/completions", json=body, headers=AUTH)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "one two three"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_compat_images_generations_when_enabled(make_client: Callable[..., Client]) -> None:
    client = make_client(compat_images=True)
    body = {"model": "qwen-image-2.0", "prompt": "a red kite", "n": 2, "size": "1024x768"}
    response = client.post("/compatible-mode/v1/images/generations", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert len(data) == 2
    assert "1024x768" in data[0]["url"]
    bad = client.post("/compatible-mode/v1/images/generations", json={**body, "n": 9}, headers=AUTH)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_parameter_error"


def test_async_header_with_submit_still_reaches_auth_first(client: Client) -> None:
    response = client.post(T2I, content=b"{not json", headers={"X-DashScope-Async": "enable"})
    assert_error(response, 401, "InvalidApiKey")
    response = client.post(T2I, content=b"{not json", headers=ASYNC)
    assert_error(response, 400, "InvalidParameter")
