"""Usage totals: one SQL ``GROUP BY`` over the ledger, rendered as JSON or CSV.

The same statement runs on SQLite and PostgreSQL: days are a stored column, so no
dialect's date functions are needed. The currency is always part of the grouping, so an
``est_cost`` never adds up amounts in different currencies.
"""

from __future__ import annotations

import csv
import io

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gateway.usage.query import UsageQuery
from gateway.usage.schema import usage_records
from providers.errors import InvalidRequest

__all__ = ["MAX_ROWS", "UsageRow", "render", "totals"]

#: A report larger than this is refused (narrow the period or the grouping): bounded memory.
MAX_ROWS = 50_000
_COLUMNS = {
    "key": usage_records.c.client_key,
    "model": usage_records.c.model,
    "provider": usage_records.c.provider,
    "day": usage_records.c.day,
}
_TOTALS = ("requests", "images", "pixels", "errors", "est_cost", "currency")


class UsageRow(msgspec.Struct):
    """One group's totals; the dimensions not grouped by are left out (UNSET is never encoded)."""

    key: str | msgspec.UnsetType | None = msgspec.UNSET
    model: str | msgspec.UnsetType | None = msgspec.UNSET
    provider: str | msgspec.UnsetType | None = msgspec.UNSET
    day: str | msgspec.UnsetType | None = msgspec.UNSET
    requests: int = 0
    images: int = 0
    pixels: int = 0
    errors: int = 0
    #: None: nothing in the group had a price (unpriced models, errors, cache hits).
    est_cost: float | None = None
    currency: str | None = None


class UsageList(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: list[UsageRow]


def _statement(query: UsageQuery) -> sa.Select[tuple[object, ...]]:
    t = usage_records.c
    groups = [_COLUMNS[d] for d in query.group_by] + [t.currency]
    failed = sa.or_(t.status >= 400, t.error_code.is_not(None))
    stmt = sa.select(
        *(_COLUMNS[d].label(d) for d in query.group_by),
        t.currency.label("currency"),
        sa.func.count().label("requests"),
        sa.func.coalesce(sa.func.sum(t.images), 0).label("images"),
        sa.func.coalesce(sa.func.sum(t.pixels), 0).label("pixels"),
        sa.func.coalesce(sa.func.sum(sa.case((failed, 1), else_=0)), 0).label("errors"),
        sa.func.sum(t.est_cost).label("est_cost"),
    ).group_by(*groups)
    if query.start is not None:
        stmt = stmt.where(t.ts >= query.start)
    if query.end is not None:
        stmt = stmt.where(t.ts < query.end)
    return stmt.limit(MAX_ROWS + 1)


def _order(row: UsageRow) -> tuple[tuple[bool, str], ...]:
    # Sorted here, not by SQL: SQLite and PostgreSQL put NULLs at opposite ends.
    values = [getattr(row, d) for d in ("key", "model", "provider", "day", "currency")]
    return tuple((v is not None, v if isinstance(v, str) else "") for v in values)


def totals(engine: Engine, query: UsageQuery) -> list[UsageRow]:
    with engine.connect() as conn:
        result = conn.execute(_statement(query)).mappings().all()
    if len(result) > MAX_ROWS:
        raise InvalidRequest(
            f"The report would have more than {MAX_ROWS} rows: narrow 'from'/'to' or 'group_by'", param="group_by"
        )
    rows = []
    for found in result:
        cost = found["est_cost"]
        rows.append(
            UsageRow(
                **{d: found[d] for d in query.group_by},
                requests=int(found["requests"]),
                images=int(found["images"]),
                pixels=int(found["pixels"]),
                errors=int(found["errors"]),
                est_cost=round(float(cost), 6) if cost is not None else None,
                currency=found["currency"],
            )
        )
    return sorted(rows, key=_order)


def render(rows: list[UsageRow], query: UsageQuery) -> tuple[bytes, str]:
    """The body and its media type."""
    if query.format == "json":
        return msgspec.json.encode(UsageList(data=rows)), "application/json"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*query.group_by, *_TOTALS])
    for row in rows:
        values = [getattr(row, name) for name in (*query.group_by, *_TOTALS)]
        writer.writerow(["" if v is None else v for v in values])
    return out.getvalue().encode(), "text/csv; charset=utf-8"
