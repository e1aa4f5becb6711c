"""Logging as one JSON object per line, for the access log and everything else."""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
from typing import Any

import msgspec

__all__ = ["JsonFormatter", "access_line", "configure_logging", "flush_access_lines"]

_encoder = msgspec.json.Encoder()
#: Access lines are written together, at most this long after the first of them...
FLUSH_SECONDS = 0.02
#: ...or as soon as this many wait.
FLUSH_LINES = 256
_pending: list[str] = []
_second: tuple[int, str] = (-1, "")


def _timestamp(created: float) -> str:
    global _second
    whole = int(created)
    if whole != _second[0]:  # strftime once a second, not once a line
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int(created * 1000) % 1000:03d}Z"


def flush_access_lines() -> None:
    """Write the access lines waiting; every other log line calls this first, to keep the order."""
    if _pending:
        lines = "".join(_pending)
        _pending.clear()
        sys.stdout.write(lines)
        sys.stdout.flush()


atexit.register(flush_access_lines)


def access_line(fields: dict[str, Any]) -> None:
    """One access-log line, in the same JSON shape as every other log line.

    Written directly rather than through ``logging`` (the record machinery cost several
    percent of a request's CPU), and in batches: a write and a flush per request was
    another few percent under load.
    """
    entry = {"ts": _timestamp(time.time()), "level": "info", "logger": "gateway.access", "msg": "request", **fields}
    _pending.append(_encoder.encode(entry).decode() + "\n")
    if len(_pending) >= FLUSH_LINES:
        flush_access_lines()
    elif len(_pending) == 1:
        try:
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, flush_access_lines)
        except RuntimeError:  # no loop (a CLI, a test): at once
            flush_access_lines()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    def emit(self, record: logging.LogRecord) -> None:
        flush_access_lines()
        super().emit(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(entry).decode()


def configure_logging(level: str = "INFO") -> None:
    handler = _Handler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # httpx logs every request at INFO; at gateway volumes that costs real time.
    logging.getLogger("httpx").setLevel(logging.WARNING)
