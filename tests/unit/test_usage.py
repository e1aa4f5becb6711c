"""The usage ledger's pure parts and its writer against a real SQLite file: query parameters,
report rendering, records, configuration, and what is lost being counted."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest

from gateway.observability.context import RequestContext
from gateway.observability.metrics import Metrics
from gateway.settings import ConfigError, UsageSettings, parse_config
from gateway.usage.database import describe_error, open_engine, parse_url, shown
from gateway.usage.ledger import Ledger
from gateway.usage.query import DIMENSIONS, UsageQuery, parse_query
from gateway.usage.record import UsageRecord, from_context, pixels_of, utc_day
from gateway.usage.report import UsageRow, render, totals
from gateway.usage.schema import SCHEMA_VERSION, migrate, schema_version
from providers.errors import InvalidRequest
from providers.secret import Secret

BASE = "providers:\n  dashscope: {kind: dashscope, base_url: 'https://x'}\n"
DAY = 86400.0


# ------------------------------------------------------------------------ query parameters


def test_defaults_group_by_everything_as_json() -> None:
    assert parse_query() == UsageQuery(None, None, DIMENSIONS, "json")


def test_a_date_to_includes_that_day_and_datetimes_are_utc_unless_they_say() -> None:
    query = parse_query("2026-01-01", "2026-01-31")
    assert query.start == 1767225600.0  # 2026-01-01T00:00:00Z
    assert query.end == 1767225600.0 + 31 * DAY
    assert parse_query("2026-01-01T12:00:00").start == 1767225600.0 + DAY / 2
    assert parse_query("2026-01-01T12:00:00Z").start == 1767225600.0 + DAY / 2
    assert parse_query("2026-01-01T12:00:00+02:00").start == 1767225600.0 + DAY / 2 - 7200


@pytest.mark.parametrize(
    ("args", "param"),
    [
        (("yesterday",), "from"),
        ((None, "2026-02-30"), "to"),
        (("2026-02-01", "2026-01-01"), "from"),
        (("2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z"), "from"),
        ((None, None, "key,,colour"), "group_by"),
        ((None, None, None, "xml"), "format"),
    ],
)
def test_bad_parameters_name_the_parameter(args: tuple[str | None, ...], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_query(*args)
    assert info.value.param == param and info.value.status == 400


@given(st.lists(st.sampled_from(DIMENSIONS), min_size=1), st.sampled_from(["", " ", "  "]))
def test_group_by_any_subset_in_any_order_and_case(asked: list[str], pad: str) -> None:
    text = ",".join(f"{pad}{g.upper() if len(g) % 2 else g}{pad}" for g in asked)
    assert parse_query(group_by=text).group_by == tuple(d for d in DIMENSIONS if d in asked)


@given(st.text(min_size=1).filter(lambda t: t.strip().lower() not in DIMENSIONS and "," not in t and t.strip()))
def test_group_by_refuses_anything_else(word: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_query(group_by=f"key,{word}")
    assert info.value.param == "group_by"


# --------------------------------------------------------------------------------- records


@given(st.integers(1, 10_000), st.integers(1, 10_000), st.integers(0, 16))
def test_pixels_are_width_times_height_times_images(width: int, height: int, images: int) -> None:
    assert pixels_of(f"{width}x{height}", images) == width * height * images


@pytest.mark.parametrize("size", [None, "", "auto", "1024", "x1024", "1024x", "-1x5", "axb"])
def test_an_unknown_size_is_no_pixels(size: str | None) -> None:
    assert pixels_of(size, 3) == 0


def test_a_record_from_the_request_context() -> None:
    ctx = RequestContext("req_1", "POST", "/v1/images/generations", client="team-a", model="wan2.7-image")
    ctx.requested_model, ctx.provider, ctx.images, ctx.size = "x" * 500, "dashscope", 2, "1024x768"
    ctx.add_cost(0.2, "CNY")
    ctx.add_cost(0.2, "CNY")
    ctx.add_cost(9.0, "USD")  # never added to CNY
    record = from_context(ctx, 200, 1.5, now=1767225600.0 + 3600)
    assert record.day == "2026-01-01" and record.latency_ms == 1500.0
    assert record.pixels == 1024 * 768 * 2 and record.est_cost == pytest.approx(0.4) and record.currency == "CNY"
    assert record.requested_model == "x" * 200  # client text is bounded


# ---------------------------------------------------------------------------- rendering

ROWS = [
    UsageRow(key=None, model=None, requests=1, errors=1),
    UsageRow(key="team-a", model="wan2.7-image", requests=3, images=4, pixels=40, est_cost=0.8, currency="CNY"),
]


def test_json_rows_hold_only_the_dimensions_grouped_by() -> None:
    body, media_type = render(ROWS, parse_query(group_by="model,key"))
    assert media_type == "application/json"
    answer = json.loads(body)
    assert answer["object"] == "list" and list(answer) == ["object", "data"]
    assert answer["data"][1] == {
        "key": "team-a",
        "model": "wan2.7-image",
        "requests": 3,
        "images": 4,
        "pixels": 40,
        "errors": 0,
        "est_cost": 0.8,
        "currency": "CNY",
    }
    assert answer["data"][0]["key"] is None and answer["data"][0]["est_cost"] is None


def test_csv_has_a_header_and_empty_cells_for_none() -> None:
    body, media_type = render(ROWS, parse_query(group_by="key,model", format="CSV"))
    assert media_type.startswith("text/csv")
    lines = body.decode().splitlines()
    assert lines[0] == "key,model,requests,images,pixels,errors,est_cost,currency"
    assert lines[1] == ",,1,0,0,1,,"
    assert list(csv.DictReader(io.StringIO(body.decode())))[1]["est_cost"] == "0.8"


# --------------------------------------------------------------------- the writer and SQL


def record(i: int, *, key: str | None = "team-a", day: float = 1767225600.0, status: int = 200) -> UsageRecord:
    ts = day + i
    cost = 0.2 if status < 400 else None
    return UsageRecord(
        ts, utc_day(ts), f"req_{i}", "/v1/images/generations", key, "dall-e-3", "wan2.7-image", "dashscope",
        1 if status < 400 else 0, "1024x1024", 1024 * 1024 if status < 400 else 0, 10.0, status, None,
        cost, "CNY" if cost else None,
    )  # fmt: skip


def settings(tmp_path: Path, **overrides: object) -> UsageSettings:
    values: dict[str, object] = {"database_url": Secret(f"sqlite:///{tmp_path}/d/usage.db"), "flush_seconds": 0.05}
    values.update(overrides)
    return UsageSettings(**values)  # type: ignore[arg-type]


def metrics_text(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_records_are_written_in_batches_and_totalled_by_sql(tmp_path: Path) -> None:
    metrics = Metrics()
    ledger = Ledger(settings(tmp_path, batch_size=7), metrics)
    ledger.start()
    for i in range(40):
        ledger.record(record(i, key="team-a" if i % 4 else "team-b"))
    ledger.record(record(100, key=None, status=401))
    ledger.record(record(101, day=1767225600.0 + DAY))
    ledger.close()
    assert "gateway_usage_written_total 42.0" in metrics_text(metrics)

    reader = Ledger(settings(tmp_path), Metrics())  # another process reading the same file
    rows = totals(reader.engine(), parse_query(group_by="key,day"))
    assert [(r.key, r.day, r.requests, r.images, r.errors, r.currency) for r in rows] == [
        (None, "2026-01-01", 1, 0, 1, None),
        ("team-a", "2026-01-01", 30, 30, 0, "CNY"),
        ("team-a", "2026-01-02", 1, 1, 0, "CNY"),
        ("team-b", "2026-01-01", 10, 10, 0, "CNY"),
    ]
    assert rows[1].est_cost == pytest.approx(6.0) and rows[1].pixels == 30 * 1024 * 1024
    january_first = totals(reader.engine(), parse_query("2026-01-01", "2026-01-01", "provider"))
    # The currency is always grouped by (never mixing amounts); no currency sorts first.
    assert [(r.provider, r.currency, r.requests) for r in january_first] == [
        ("dashscope", None, 1),
        ("dashscope", "CNY", 40),
    ]
    reader.close()


def test_a_full_buffer_drops_and_counts_never_blocks(tmp_path: Path) -> None:
    metrics = Metrics()
    ledger = Ledger(settings(tmp_path, buffer=3), metrics)  # not started: nothing drains it
    started = time.monotonic()
    for i in range(10):
        ledger.record(record(i))
    assert time.monotonic() - started < 0.5
    assert 'gateway_usage_dropped_total{reason="buffer_full"} 7.0' in metrics_text(metrics)
    ledger.start()
    ledger.close()
    assert "gateway_usage_written_total 3.0" in metrics_text(metrics)


def test_an_unreachable_database_loses_counted_records_and_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    password = "pw-" + "q" * 24
    url = Secret(f"postgresql://ledger:{password}@127.0.0.1:1/ledger")
    metrics = Metrics()
    ledger = Ledger(settings(tmp_path, database_url=url, write_attempts=2), metrics)
    ledger.start()
    for i in range(5):
        ledger.record(record(i))
    deadline = time.monotonic() + 15
    while 'write_failed"} 5.0' not in metrics_text(metrics) and time.monotonic() < deadline:
        time.sleep(0.05)
    ledger.close(1)
    text = metrics_text(metrics)
    assert 'gateway_usage_dropped_total{reason="write_failed"} 5.0' in text
    assert "gateway_usage_database_up 0.0" in text
    assert "usage ledger: writing 5 records failed (OperationalError" in caplog.text
    assert password not in caplog.text and password not in text


def test_migrations_run_once_and_refuse_a_newer_schema(tmp_path: Path) -> None:
    engine = open_engine(Secret(f"sqlite:///{tmp_path}/m/usage.db"))
    assert migrate(engine) == SCHEMA_VERSION and migrate(engine) == SCHEMA_VERSION
    with engine.begin() as conn:
        assert conn.execute(schema_version.select()).all()[0].version == 1
        conn.execute(schema_version.insert().values(version=SCHEMA_VERSION + 1, applied_at=0.0))
    with pytest.raises(RuntimeError, match="newer than this gateway"):
        migrate(engine)
    engine.dispose()


def test_the_url_is_shown_masked_and_errors_are_scrubbed() -> None:
    url = parse_url(Secret("postgresql://u:s3cret-password-here@db:5432/usage"))
    assert url.drivername == "postgresql+psycopg"
    assert shown(url) == "postgresql+psycopg://u:***@db:5432/usage"
    assert "s3cret-password-here" not in describe_error(RuntimeError("auth failed: s3cret-password-here"))


# ------------------------------------------------------------------------ configuration


def test_usage_defaults_to_sqlite_in_the_data_directory() -> None:
    config = parse_config(BASE, {"GATEWAY_DATA_DIR": "/srv/gw"}, "f.yaml")
    assert config.usage.enabled and config.usage.database_url.reveal() == "sqlite:////srv/gw/usage.db"
    assert parse_config(BASE, {}, "f").usage.database_url.reveal() == "sqlite:///./data/usage.db"
    unset = parse_config(BASE + "usage: {database_url: '${USAGE_DATABASE_URL}'}\n", {}, "f")
    assert unset.usage.database_url.reveal() == "sqlite:///./data/usage.db"


def test_a_bad_database_url_names_the_line_not_the_url() -> None:
    text = BASE + "usage:\n  database_url: 'mysql://root:hunter2-secret@db/x'\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, {}, "f.yaml")
    assert str(info.value).startswith("f.yaml:3:") and "sqlite:/// or postgresql://" in str(info.value)
    assert "hunter2" not in str(info.value)
    config = parse_config(BASE + "usage: {database_url: 'postgresql://u:${PW}@db/x'}\n", {"PW": "pw-1234567"}, "f")
    assert "pw-1234567" not in repr(config)


def test_prices_are_numbers_or_amounts_with_a_currency() -> None:
    config = parse_config(BASE + "prices: {a: 1, b: 0.5, c: {amount: 2, currency: USD}}\n", {}, "f")
    assert config.prices["a"] == 1.0 and isinstance(config.prices["a"], float)
    assert config.prices["b"] == 0.5
    c = config.prices["c"]
    assert not isinstance(c, float) and (c.amount, c.currency) == (2.0, "USD")
    with pytest.raises(ConfigError, match=r"^f:3: Object missing required field `currency` \(at \$\.prices\.d\)$"):
        parse_config(BASE + "prices: {d: {amount: 2}}\n", {}, "f")
