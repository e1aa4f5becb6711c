"""The async task lifecycle, both result forms, cancel, UNKNOWN, and enforce_limits."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from .conftest import (
    ASYNC,
    AUTH,
    GEN,
    I2I,
    MM,
    T2I,
    Client,
    advance,
    assert_error,
    mm_body,
    png_size,
    submit,
    t2i_body,
    task,
)

TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}")


def test_submit_shape(client: Client) -> None:
    response = client.post(T2I, json=t2i_body("wanx2.1-t2i-turbo", "cat", n=1), headers=ASYNC)
    body = response.json()
    assert set(body) == {"output", "request_id"}
    assert body["output"]["task_status"] == "PENDING"
    assert uuid.UUID(body["output"]["task_id"]).version == 4
    assert response.headers["x-request-id"] == body["request_id"]


def test_lifecycle_follows_the_clock(make_client: Callable[..., Client]) -> None:
    client = make_client(pending_seconds=5, latency=10)
    task_id = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "cat", n=2, size="1024*768"))
    pending = task(client, task_id)["output"]
    assert pending["task_status"] == "PENDING"
    assert set(pending) == {"task_id", "task_status", "submit_time"}
    assert TIME.fullmatch(pending["submit_time"])
    advance(client, 5)
    running = task(client, task_id)["output"]
    assert running["task_status"] == "RUNNING"
    assert TIME.fullmatch(running["scheduled_time"])
    assert running["task_metrics"] == {"TOTAL": 2, "SUCCEEDED": 0, "FAILED": 0}
    advance(client, 10)
    done = task(client, task_id)
    output = done["output"]
    assert output["task_status"] == "SUCCEEDED"
    assert TIME.fullmatch(output["end_time"])
    assert output["task_metrics"] == {"TOTAL": 2, "SUCCEEDED": 2, "FAILED": 0}
    assert done["usage"] == {"image_count": 2}
    assert len(output["results"]) == 2
    first = output["results"][0]
    assert first["orig_prompt"] == "cat"
    assert first["actual_prompt"].startswith("cat")
    assert png_size(client.get(first["url"]).content) == (1024, 768)


def test_results_form_per_family(client: Client) -> None:
    v1 = task(client, submit(client, T2I, t2i_body("wanx-v1", "cat", n=1)))["output"]["results"][0]
    assert set(v1) == {"url"}
    no_extend = t2i_body("wan2.5-t2i-preview", "cat", n=1, prompt_extend=False)
    item = task(client, submit(client, T2I, no_extend))["output"]["results"][0]
    assert set(item) == {"url", "orig_prompt"}
    qwen = task(client, submit(client, T2I, t2i_body("qwen-image-plus", "cat", n=1)))
    assert set(qwen["output"]["results"][0]) == {"url", "orig_prompt", "actual_prompt"}
    assert png_size(client.get(qwen["output"]["results"][0]["url"]).content) == (1664, 928)


def test_choices_form_for_image_generation(client: Client) -> None:
    body = task(client, submit(client, GEN, mm_body("wan2.6-image", "edit", "https://a/1.png", n=2, size="1K")))
    output = body["output"]
    assert output["finished"] is True
    assert "results" not in output
    assert len(output["choices"]) == 2
    for choice in output["choices"]:
        assert choice["finish_reason"] == "stop"
        assert choice["message"]["role"] == "assistant"
        assert [item["type"] for item in choice["message"]["content"]] == ["image"]
    assert body["usage"] == {
        "size": "1280*1280",
        "image_count": 2,
        "input_tokens": 0,
        "output_tokens": 0,
        "total_tokens": 0,
    }


def test_interleave_task_alternates_text_and_images(client: Client) -> None:
    body = mm_body("wan2.6-image", "story", n=1, enable_interleave=True, max_images=2)
    output = task(client, submit(client, GEN, body))["output"]
    content = output["choices"][0]["message"]["content"]
    assert [item["type"] for item in content] == ["text", "image", "text", "image"]


def test_image2image_task(client: Client) -> None:
    body = {
        "model": "wan2.5-i2i-preview",
        "input": {"prompt": "merge", "images": ["https://a/1.png"]},
        "parameters": {"n": 1},
    }
    output = task(client, submit(client, I2I, body))["output"]
    assert output["task_status"] == "SUCCEEDED"
    assert png_size(client.get(output["results"][0]["url"]).content) == (1280, 1280)


def test_cancel_only_while_pending(make_client: Callable[..., Client]) -> None:
    client = make_client(pending_seconds=10, latency=10)
    first = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "cat", n=1))
    response = client.post(f"/api/v1/tasks/{first}/cancel", headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"request_id": response.headers["x-request-id"]}
    assert task(client, first)["output"]["task_status"] == "CANCELED"
    second = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "cat", n=1))
    advance(client, 10)
    response = client.post(f"/api/v1/tasks/{second}/cancel", headers=AUTH)
    assert_error(
        response,
        400,
        "UnsupportedOperation",
        "Failed to cancel the task, please confirm if the task is in PENDING status.",
    )
    assert_error(client.post(f"/api/v1/tasks/{first}/cancel", headers=AUTH), 400, "UnsupportedOperation")
    assert_error(client.post(f"/api/v1/tasks/{uuid.uuid4()}/cancel", headers=AUTH), 400, "UnsupportedOperation")


def test_tasks_expire_after_24_hours(client: Client) -> None:
    task_id = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "cat", n=1))
    url = task(client, task_id)["output"]["results"][0]["url"]
    advance(client, 24 * 3600 + 1)
    assert task(client, task_id)["output"] == {"task_id": task_id, "task_status": "UNKNOWN"}
    response = client.get(url)
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code>" in response.text


def test_other_region_task_is_unknown(client: Client, intl: Client) -> None:
    task_id = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "cat", n=1))
    assert task(intl, task_id)["output"]["task_status"] == "UNKNOWN"


def test_any_key_can_query(client: Client) -> None:
    task_id = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "cat", n=1))
    other = client.get(f"/api/v1/tasks/{task_id}", headers={"Authorization": "Bearer sk-another"})
    assert other.json()["output"]["task_status"] == "SUCCEEDED"


def test_rate_limit_per_key_and_model(make_client: Callable[..., Client]) -> None:
    client = make_client(enforce_limits=True)
    body = t2i_body("wanx2.1-t2i-turbo", "cat", n=1)
    submit(client, T2I, body)
    submit(client, T2I, body)
    assert_error(
        client.post(T2I, json=body, headers=ASYNC),
        429,
        "Throttling.RateQuota",
        "Requests rate limit exceeded, please try again later.",
    )
    other_key = {"Authorization": "Bearer sk-second", "X-DashScope-Async": "enable"}
    assert client.post(T2I, json=body, headers=other_key).status_code == 200
    submit(client, T2I, t2i_body("wanx2.1-t2i-plus", "cat", n=1))
    advance(client, 1.5)
    submit(client, T2I, body)


def test_rate_limit_per_minute_for_qwen_max(make_client: Callable[..., Client]) -> None:
    client = make_client(enforce_limits=True)
    body = mm_body("qwen-image-max", "cat")
    assert client.post(MM, json=body, headers=AUTH).status_code == 200
    assert client.post(MM, json=body, headers=AUTH).status_code == 200
    assert_error(client.post(MM, json=body, headers=AUTH), 429, "Throttling.RateQuota")
    advance(client, 61)
    assert client.post(MM, json=body, headers=AUTH).status_code == 200


def test_limits_are_off_by_default(client: Client) -> None:
    for _ in range(10):
        submit(client, T2I, t2i_body("wanx-v1", "cat", n=1))


def test_concurrency_queues_excess_tasks(make_client: Callable[..., Client]) -> None:
    client = make_client(enforce_limits=True, latency=10)
    body = t2i_body("wanx-v1", "cat", n=1)  # one task at a time
    first = submit(client, T2I, body)
    advance(client, 1)
    second = submit(client, T2I, body)
    advance(client, 1)
    third = submit(client, T2I, body)
    assert task(client, first)["output"]["task_status"] == "RUNNING"
    assert task(client, second)["output"]["task_status"] == "PENDING"
    assert client.post(f"/api/v1/tasks/{second}/cancel", headers=AUTH).status_code == 200
    advance(client, 8)  # t=10: the first ends, the third takes its slot
    assert task(client, first)["output"]["task_status"] == "SUCCEEDED"
    assert task(client, third)["output"]["task_status"] == "RUNNING"
    advance(client, 10)
    assert task(client, third)["output"]["task_status"] == "SUCCEEDED"


def test_task_query_limit(make_client: Callable[..., Client]) -> None:
    client = make_client(enforce_limits=True)
    task_id = str(uuid.uuid4())
    for _ in range(20):
        assert client.get(f"/api/v1/tasks/{task_id}", headers=AUTH).status_code == 200
    assert_error(client.get(f"/api/v1/tasks/{task_id}", headers=AUTH), 429, "Throttling.RateQuota")
    advance(client, 1.1)
    assert client.get(f"/api/v1/tasks/{task_id}", headers=AUTH).status_code == 200
