"""Every fault marker, on the sync call and on async tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import (
    ASYNC,
    AUTH,
    GEN,
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

REFUSALS = [
    ("http-500", 500, "InternalError", None),
    ("http-503", 503, "ModelUnavailable", "Model is unavailable, please try again later."),
    ("throttle", 429, "Throttling", "Requests throttling triggered."),
    ("throttle-rate", 429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later."),
    ("throttle-burst", 429, "Throttling.BurstRate", None),
    ("quota", 429, "Throttling.AllocationQuota", None),
    ("billing", 429, "PrepaidBillOverdue", None),
    ("arrearage", 400, "Arrearage", None),
    ("unpurchased", 403, "AccessDenied.Unpurchased", None),
    ("free-tier-only", 403, "AllocationQuota.FreeTierOnly", None),
]

TASK_FAILURES = [
    ("data-inspection", "DataInspectionFailed", "Input data may contain inappropriate content."),
    ("data-inspection-output", "DataInspectionFailed", "Output data may contain inappropriate content."),
    ("ip-infringement", "IPInfringementSuspect", None),
    ("internal-error", "InternalError", None),
    ("algo-error", "InternalError.Algo", None),
]

SYNC_FAILURES = [
    ("data-inspection", 400, "DataInspectionFailed", "Input data may contain inappropriate content."),
    ("data-inspection-output", 400, "DataInspectionFailed", "Output data may contain inappropriate content."),
    ("ip-infringement", 400, "IPInfringementSuspect", None),
    ("internal-error", 500, "InternalError", None),
    ("algo-error", 500, "InternalError.Algo", None),
    ("all-failed", 500, "InternalError", None),
]


def sync_call(client: Client, prompt: str, model: str = "wan2.7-image", **params: Any) -> Any:
    return client.post(MM, json=mm_body(model, prompt, **{"n": 1, **params}), headers=AUTH)


@pytest.mark.parametrize(("marker", "status", "code", "message"), REFUSALS)
def test_refusals_on_every_endpoint(client: Client, marker: str, status: int, code: str, message: str | None) -> None:
    prompt = f"a cat [emu:{marker}]"
    assert_error(sync_call(client, prompt), status, code, message)
    assert_error(
        client.post(T2I, json=t2i_body("wanx2.1-t2i-turbo", prompt, n=1), headers=ASYNC),
        status,
        code,
        message,
    )
    assert_error(client.post(GEN, json=mm_body("wan2.6-t2i", prompt, n=1), headers=ASYNC), status, code, message)
    assert client.get("/__emulator__/stats").json()["tasks_created"] == 0


def test_business_error_inside_http_200(client: Client) -> None:
    for response in (
        sync_call(client, "[emu:business-200]"),
        client.post(T2I, json=t2i_body("wanx2.1-t2i-turbo", "[emu:business-200]", n=1), headers=ASYNC),
    ):
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"code", "message", "request_id"}
        assert body["code"] == "InternalError"


@pytest.mark.parametrize(("marker", "status", "code", "message"), SYNC_FAILURES)
def test_sync_failures(client: Client, marker: str, status: int, code: str, message: str | None) -> None:
    assert_error(sync_call(client, f"x [emu:{marker}]"), status, code, message)


@pytest.mark.parametrize(("marker", "code", "message"), TASK_FAILURES)
def test_task_failures(client: Client, marker: str, code: str, message: str | None) -> None:
    task_id = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", f"x [emu:{marker}]", n=1))
    body = task(client, task_id)
    output = body["output"]
    assert output["task_status"] == "FAILED"
    assert output["code"] == code
    if message:
        assert output["message"] == message
    assert "usage" not in body
    assert {"submit_time", "scheduled_time", "end_time"} <= set(output)


def test_partial_results_form(client: Client) -> None:
    body = task(client, submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "x [emu:partial]", n=3)))
    output = body["output"]
    assert output["task_status"] == "SUCCEEDED"
    assert "url" in output["results"][0]
    assert [r.get("code") for r in output["results"][1:]] == ["InternalError.Timeout"] * 2
    assert output["task_metrics"] == {"TOTAL": 3, "SUCCEEDED": 1, "FAILED": 2}
    assert body["usage"] == {"image_count": 1}


def test_partial_choices_and_sync(client: Client) -> None:
    body = task(client, submit(client, GEN, mm_body("wan2.6-t2i", "x [emu:partial]", n=3)))
    assert len(body["output"]["choices"]) == 1
    assert body["usage"]["image_count"] == 1
    wan = sync_call(client, "x [emu:partial]", n=3).json()
    assert len(wan["output"]["choices"]) == 1
    assert wan["usage"]["image_count"] == 1
    qwen = sync_call(client, "x [emu:partial]", model="qwen-image-2.0", n=3).json()
    assert len(qwen["output"]["choices"][0]["message"]["content"]) == 1
    assert qwen["usage"]["image_count"] == 1


def test_all_failed_task(client: Client) -> None:
    body = task(client, submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "x [emu:all-failed]", n=2)))
    assert body["output"]["task_status"] == "SUCCEEDED"
    assert all("code" in r and "url" not in r for r in body["output"]["results"])
    assert body["output"]["task_metrics"]["FAILED"] == 2
    assert body["usage"] == {"image_count": 0}


def test_flaky_counts_per_prompt(client: Client) -> None:
    for _ in range(2):
        assert_error(sync_call(client, "a [emu:flaky=2]"), 500, "InternalError")
    assert sync_call(client, "a [emu:flaky=2]").status_code == 200
    assert_error(sync_call(client, "b [emu:flaky=2]"), 500, "InternalError")
    assert_error(sync_call(client, "c [emu:flaky-throttle=1]"), 429, "Throttling.RateQuota")
    assert sync_call(client, "c [emu:flaky-throttle=1]").status_code == 200
    body = t2i_body("wanx2.1-t2i-turbo", "d [emu:flaky=1]", n=1)
    assert_error(client.post(T2I, json=body, headers=ASYNC), 500, "InternalError")
    submit(client, T2I, body)


def test_flaky_task(client: Client) -> None:
    body = t2i_body("wanx2.1-t2i-turbo", "x [emu:flaky-task=1]", n=1)
    first = task(client, submit(client, T2I, body))["output"]
    assert (first["task_status"], first["code"]) == ("FAILED", "InternalError")
    assert task(client, submit(client, T2I, body))["output"]["task_status"] == "SUCCEEDED"


def test_latency_marker_sets_task_running_time(make_client: Callable[..., Client]) -> None:
    client = make_client(latency=1)
    task_id = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "x [emu:latency=100]", n=1))
    advance(client, 50)
    assert task(client, task_id)["output"]["task_status"] == "RUNNING"
    advance(client, 50)
    assert task(client, task_id)["output"]["task_status"] == "SUCCEEDED"


def test_stuck_task_runs_forever(client: Client) -> None:
    task_id = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", "x [emu:stuck]", n=1))
    advance(client, 3 * 3600)
    assert task(client, task_id)["output"]["task_status"] == "RUNNING"
    assert_error(client.post(f"/api/v1/tasks/{task_id}/cancel", headers=AUTH), 400, "UnsupportedOperation")
    listing = client.get("/api/v1/tasks", headers=AUTH).json()
    assert listing["data"][0]["end_time"] is None


@pytest.mark.parametrize("marker", ["unknown", "canceled"])
def test_unknown_and_canceled_after_pending(make_client: Callable[..., Client], marker: str) -> None:
    client = make_client(pending_seconds=5)
    task_id = submit(client, T2I, t2i_body("wanx2.1-t2i-turbo", f"x [emu:{marker}]", n=1))
    assert task(client, task_id)["output"]["task_status"] == "PENDING"
    advance(client, 5)
    output = task(client, task_id)["output"]
    assert output["task_status"] == marker.upper()
    if marker == "unknown":
        assert output == {"task_id": task_id, "task_status": "UNKNOWN"}


def test_url_markers(client: Client) -> None:
    def first_url(prompt: str) -> str:
        body = sync_call(client, prompt, model="qwen-image-max").json()
        return str(body["output"]["choices"][0]["message"]["content"][0]["image"])

    expired = client.get(first_url("x [emu:expired-url]"))
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code>" in expired.text
    broken = client.get(first_url("x [emu:broken-url]"))
    assert broken.status_code == 404
    assert "<Code>NoSuchKey</Code>" in broken.text
    html = client.get(first_url("x [emu:html-url]"))
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    task_url = task(client, submit(client, T2I, t2i_body("wanx-v1", "x [emu:expired-url]", n=1)))
    assert client.get(task_url["output"]["results"][0]["url"]).status_code == 403


def test_wide_2k_on_async_task(client: Client) -> None:
    body = task(client, submit(client, GEN, mm_body("wan2.7-image", "x [emu:wide-2k]", n=1)))
    assert body["usage"]["size"] == "2985*1405"
    url = body["output"]["choices"][0]["message"]["content"][0]["image"]
    assert png_size(client.get(url).content) == (2985, 1405)
