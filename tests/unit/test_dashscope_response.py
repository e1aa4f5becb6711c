"""Response parsing and the DashScope error table."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from providers.base import HttpResponse, ImageBatch, TaskRef
from providers.dashscope.response import parse_poll, parse_result
from providers.errors import (
    ApiError,
    ContentPolicyViolation,
    InsufficientQuota,
    ModelNotActivated,
    RateLimited,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInvalidParameter,
)


def resp(payload: Any, status: int = 200, **headers: str) -> HttpResponse:
    return HttpResponse(status, headers, msgspec.json.encode(payload))


def test_sync_wan_shape() -> None:
    batch = parse_result(
        resp(
            {
                "output": {
                    "choices": [
                        {"message": {"role": "assistant", "content": [{"image": "https://a/1.png", "type": "image"}]}},
                        {"message": {"role": "assistant", "content": [{"image": "https://a/2.png", "type": "image"}]}},
                    ],
                    "finished": True,
                },
                "usage": {
                    "image_count": 2,
                    "size": "2985*1405",
                    "input_tokens": 10,
                    "output_tokens": 2,
                    "total_tokens": 12,
                },
                "request_id": "r1",
            }
        )
    )
    assert isinstance(batch, ImageBatch)
    assert [i.url for i in batch.images] == ["https://a/1.png", "https://a/2.png"]
    assert batch.size == (2985, 1405)
    assert batch.usage is not None and batch.usage.total_tokens == 12


def test_sync_qwen_shape_one_choice_many_images() -> None:
    batch = parse_result(
        resp(
            {
                "output": {
                    "choices": [{"message": {"content": [{"image": "u1"}, {"image": "u2"}]}}],
                    "task_metric": {"TOTAL": 2, "SUCCEEDED": 2, "FAILED": 0},
                },
                "usage": {"width": 1664, "height": 928, "image_count": 2},
                "request_id": "r",
            }
        )
    )
    assert isinstance(batch, ImageBatch)
    assert [i.url for i in batch.images] == ["u1", "u2"]
    assert batch.size == (1664, 928)
    assert batch.usage is None


def test_submit_gives_a_task() -> None:
    task = parse_result(resp({"output": {"task_status": "PENDING", "task_id": "t1"}, "request_id": "r"}))
    assert task == TaskRef("t1", "r")


def test_running_poll_is_none() -> None:
    assert parse_poll(resp({"output": {"task_id": "t", "task_status": "RUNNING"}})) is None
    assert parse_poll(resp({"output": {"task_id": "t", "task_status": "PENDING"}})) is None


def test_results_form_with_partial_failure_and_revised_prompt() -> None:
    batch = parse_poll(
        resp(
            {
                "output": {
                    "task_id": "t",
                    "task_status": "SUCCEEDED",
                    "results": [
                        {"orig_prompt": "p", "actual_prompt": "p, detailed", "url": "https://x/1.png"},
                        {"code": "InternalError.Timeout", "message": "timeout"},
                    ],
                    "task_metrics": {"TOTAL": 2, "SUCCEEDED": 1, "FAILED": 1},
                },
                "usage": {"image_count": 1},
            }
        )
    )
    assert batch is not None
    assert [(i.url, i.revised_prompt) for i in batch.images] == [("https://x/1.png", "p, detailed")]
    assert batch.size is None


def test_all_results_failed_is_an_error() -> None:
    with pytest.raises(UpstreamError):
        failed = [{"code": "InternalError", "message": "m"}]
        parse_poll(resp({"output": {"task_status": "SUCCEEDED", "results": failed}}))


def test_choices_form_task() -> None:
    batch = parse_poll(
        resp(
            {
                "output": {
                    "task_status": "SUCCEEDED",
                    "finished": True,
                    "choices": [{"message": {"content": [{"image": "u", "type": "image"}]}}],
                },
                "usage": {
                    "size": "1280*1280",
                    "image_count": 1,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "total_tokens": 0,
                },
            }
        )
    )
    assert batch is not None and batch.size == (1280, 1280) and batch.usage is None


@pytest.mark.parametrize(
    ("code", "cls", "openai_code"),
    [
        ("DataInspectionFailed", ContentPolicyViolation, "content_policy_violation"),
        ("IPInfringementSuspect", ContentPolicyViolation, "content_policy_violation"),
        ("InternalError", UpstreamError, "upstream_error"),
        ("InternalError.Algo", UpstreamError, "upstream_error"),
        ("InvalidParameter", UpstreamInvalidParameter, "invalid_parameter"),
        ("Arrearage", InsufficientQuota, "insufficient_quota"),
    ],
)
def test_failed_task_codes(code: str, cls: type[ApiError], openai_code: str) -> None:
    with pytest.raises(cls) as info:
        parse_poll(resp({"request_id": "rq-9", "output": {"task_status": "FAILED", "code": code, "message": "m"}}))
    assert info.value.code == openai_code
    assert "rq-9" in info.value.message


@pytest.mark.parametrize("status", ["UNKNOWN", "CANCELED"])
def test_unknown_and_canceled_are_terminal_errors(status: str) -> None:
    with pytest.raises(UpstreamError) as info:
        parse_poll(resp({"output": {"task_id": "t", "task_status": status}}))
    assert info.value.retryable is False


@pytest.mark.parametrize(
    ("status", "code", "cls", "openai_status", "openai_code"),
    [
        (400, "InvalidParameter", UpstreamInvalidParameter, 400, "invalid_parameter"),
        (400, "DataInspectionFailed", ContentPolicyViolation, 400, "content_policy_violation"),
        (429, "Throttling", RateLimited, 429, "rate_limit_exceeded"),
        (429, "Throttling.RateQuota", RateLimited, 429, "rate_limit_exceeded"),
        (429, "Throttling.BurstRate", RateLimited, 429, "rate_limit_exceeded"),
        (429, "Throttling.AllocationQuota", InsufficientQuota, 429, "insufficient_quota"),
        (429, "PrepaidBillOverdue", InsufficientQuota, 429, "insufficient_quota"),
        (400, "Arrearage", InsufficientQuota, 429, "insufficient_quota"),
        (401, "InvalidApiKey", UpstreamAuthError, 502, "upstream_auth_error"),
        (403, "AccessDenied.Unpurchased", ModelNotActivated, 403, "model_not_activated"),
        (403, "Model.AccessDenied", ModelNotActivated, 403, "model_not_activated"),
        (500, "InternalError", UpstreamError, 502, "upstream_error"),
        (503, "ModelUnavailable", UpstreamError, 502, "upstream_error"),
        (502, None, UpstreamError, 502, "upstream_error"),
    ],
)
def test_http_error_table(
    status: int, code: str | None, cls: type[ApiError], openai_status: int, openai_code: str
) -> None:
    payload = {"code": code, "message": "m", "request_id": "rq-1"} if code else {}
    with pytest.raises(cls) as info:
        parse_result(resp(payload, status, **{"retry-after": "3"}))
    assert info.value.status == openai_status
    assert info.value.code == openai_code
    if code:
        assert "rq-1" in info.value.message


def test_rate_limit_keeps_retry_after() -> None:
    with pytest.raises(RateLimited) as info:
        parse_result(resp({"code": "Throttling", "message": "m"}, 429, **{"retry-after": "7"}))
    assert info.value.retry_after == 7.0


def test_business_error_inside_http_200() -> None:
    with pytest.raises(UpstreamError):
        parse_result(resp({"code": "InternalError", "message": "boom", "request_id": "r"}))


def test_not_json() -> None:
    with pytest.raises(UpstreamError):
        parse_result(HttpResponse(200, {}, b"<html>"))
    with pytest.raises(UpstreamError):
        parse_result(HttpResponse(502, {}, b"<html>bad gateway</html>"))


@pytest.mark.parametrize("code", ["DataInspectionFailed", "data_inspection_failed"])
def test_compatible_endpoint_errors_in_either_spelling(code: str) -> None:
    from providers.dashscope.response import parse_compat
    from providers.errors import ContentPolicyViolation

    body = msgspec.json.encode({"error": {"message": "Input data may contain inappropriate content.", "code": code}})
    with pytest.raises(ContentPolicyViolation):
        parse_compat(HttpResponse(400, {"x-request-id": "r"}, body))


def test_compatible_endpoint_answers() -> None:
    from providers.dashscope.response import parse_compat
    from providers.errors import UpstreamError

    body = {"created": 1, "data": [{"url": "https://a/1.png"}], "usage": {"output_width": 1328, "output_height": 1328}}
    batch = parse_compat(HttpResponse(200, {"x-request-id": "r"}, msgspec.json.encode(body)))
    assert [i.url for i in batch.images] == ["https://a/1.png"] and batch.size == (1328, 1328)
    with pytest.raises(UpstreamError) as unreadable:
        parse_compat(HttpResponse(200, {}, b"<html>"))
    assert unreadable.value.evidence == "unknown"
