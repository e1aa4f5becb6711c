"""The emulator's clock: wall time plus an offset tests can move forward."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def dashscope_time(ts: float) -> str:
    """``YYYY-MM-DD HH:mm:ss.SSS`` in UTC+8, the form task payloads use."""
    moment = datetime.fromtimestamp(ts, tz=UTC).astimezone(CHINA)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def parse_list_time(text: str) -> float:
    """``YYYYMMDDhhmmss`` (UTC+8), the form of the task-list query parameters."""
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=CHINA).timestamp()
