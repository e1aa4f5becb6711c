"""``GET /api/v1/tasks``: the paged task list; its times are epoch milliseconds."""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING

from .clock import parse_list_time
from .errors import invalid
from .tasks import RETENTION_SECONDS, Task
from .wire import TaskList, TaskListItem

if TYPE_CHECKING:
    from .state import Emulator

_REGION_IDS = {
    "cn": "cn-beijing",
    "intl": "ap-southeast-1",
    "us": "us-east-1",
    "eu": "eu-central-1",
    "jp": "ap-northeast-1",
    "hk": "cn-hongkong",
}
_ACCOUNT = "1000000000000000"


def _page_param(query: dict[str, str], name: str, default: int, high: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= high:
        raise invalid(f"The {name} must be an integer within [1, {high}].")
    return int(text)


def _time_param(query: dict[str, str], name: str, default: float) -> float:
    text = query.get(name)
    if text is None:
        return default
    try:
        return parse_list_time(text)
    except ValueError:
        raise invalid(f"The {name} must be formatted as YYYYMMDDhhmmss.") from None


def _ms(ts: float) -> int:
    return int(ts * 1000)


def key_id(key: str) -> str:
    """A stable, non-reversible label for a key (the key itself is never echoed)."""
    return str(int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 1_000_000)


def _item(emu: Emulator, task: Task, status: str) -> TaskListItem:
    started = status not in ("PENDING", "CANCELED", "UNKNOWN")
    ended = status in ("SUCCEEDED", "FAILED") and not math.isinf(task.end)
    return TaskListItem(
        api_key_id=key_id(task.key),
        caller_parent_id=_ACCOUNT,
        caller_uid=_ACCOUNT,
        end_time=_ms(task.end) if ended else None,
        gmt_create=_ms(task.submitted),
        model_name=task.job.model,
        region=_REGION_IDS[emu.config.region],
        request_id=task.request_id,
        start_time=_ms(task.start) if started else None,
        status=status,
        task_id=task.task_id,
        user_api_unique_key=f"apikey:v1:aigc:{task.job.endpoint.value}:{task.job.model}",
    )


def task_list(emu: Emulator, query: dict[str, str], request_id: str) -> TaskList:
    now = emu.clock.now()
    page_no = _page_param(query, "page_no", 1, 1_000_000)
    page_size = _page_param(query, "page_size", 10, 100)
    start = _time_param(query, "start_time", now - RETENTION_SECONDS)
    end = _time_param(query, "end_time", now)
    model, wanted = query.get("model_name"), query.get("status")
    rows: list[TaskListItem] = []
    for task in sorted(emu.tasks, key=lambda t: t.submitted, reverse=True):
        status = task.status(now)
        if status == "UNKNOWN" or not start <= task.submitted <= end:
            continue
        if (model and task.job.model != model) or (wanted and status != wanted):
            continue
        rows.append(_item(emu, task, status))
    first = (page_no - 1) * page_size
    return TaskList(
        total=len(rows),
        data=rows[first : first + page_size],
        total_page=max(1, math.ceil(len(rows) / page_size)),
        page_no=page_no,
        request_id=request_id,
        page_size=page_size,
    )
