"""What a usage report asks for: the period, the grouping and the format, checked.

Shared by ``GET /admin/usage`` and ``image-gateway usage``; every mistake is a 400 naming
the parameter. Pure: no database here.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from providers.errors import InvalidRequest

__all__ = ["DIMENSIONS", "UsageQuery", "parse_query"]

#: What rows can be grouped by, in the order their columns come.
DIMENSIONS = ("key", "model", "provider", "day")
Format = Literal["json", "csv"]


class UsageQuery(msgspec.Struct, frozen=True):
    #: Unix seconds, from inclusive, to exclusive; None: unbounded.
    start: float | None = None
    end: float | None = None
    group_by: tuple[str, ...] = DIMENSIONS
    format: Format = "json"


def _instant(text: str, param: str, *, end: bool) -> float:
    """A date (a whole UTC day: ``to`` includes it) or an ISO datetime (UTC unless it says otherwise)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            return (start + dt.timedelta(days=1) if end else start).timestamp()
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            f"'{param}' must be an ISO date (2026-01-31) or datetime (2026-01-31T12:00:00Z)", param=param
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def parse_query(
    start: str | None = None, end: str | None = None, group_by: str | None = None, format: str | None = None
) -> UsageQuery:
    begin = _instant(start, "from", end=False) if start else None
    until = _instant(end, "to", end=True) if end else None
    if begin is not None and until is not None and begin >= until:
        raise InvalidRequest("'from' must be before 'to'", param="from")
    groups: tuple[str, ...] = DIMENSIONS
    if group_by is not None and group_by.strip():
        asked = [g.strip().lower() for g in group_by.split(",") if g.strip()]
        unknown = [g for g in asked if g not in DIMENSIONS]
        if unknown:
            raise InvalidRequest(
                f"'group_by' takes any of {', '.join(DIMENSIONS)} (comma-separated), not {unknown[0][:40]!r}",
                param="group_by",
            )
        groups = tuple(d for d in DIMENSIONS if d in asked)
    fmt = (format or "json").strip().lower()
    if fmt not in ("json", "csv"):
        raise InvalidRequest("'format' is json or csv", param="format")
    return UsageQuery(begin, until, groups, "csv" if fmt == "csv" else "json")
