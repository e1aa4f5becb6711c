"""The console's pure parts: the chart, the same-origin check, cookies, the per-key job index."""

from __future__ import annotations

import asyncio
import time

from gateway.console.chart import MAX_BARS, bar_chart
from gateway.console.guard import is_https, same_origin
from gateway.console.routes import address_bucket
from gateway.console.sessions import SessionStore, cookie_value
from gateway.service.jobs import MAX_LISTED_JOBS, JobRecord, JobService
from gateway.settings import JobSettings
from gateway.state import LocalState


def _scope(**headers: str) -> dict[str, object]:
    return {"scheme": "http", "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]}


def test_the_chart_is_bounded_and_scaled() -> None:
    chart = bar_chart([(f"key-{i} · m", i) for i in range(50)])
    assert len(chart.bars) == MAX_BARS
    assert chart.bars[0].value == 49
    other = chart.bars[-1]
    assert other.label == "other" and other.value == sum(range(50 - MAX_BARS + 1))
    assert max(bar.width for bar in chart.bars) == other.width == 380  # the largest bar spans the width
    assert bar_chart([]).bars == []
    assert bar_chart([("a", 0)]).bars[0].width == 0


def test_same_origin_refuses_other_sites() -> None:
    assert same_origin(_scope(host="gw:8000"))  # no browser hints: the CSRF token decides
    assert same_origin(_scope(host="gw:8000", origin="http://gw:8000", sec_fetch_site="same-origin"))
    assert same_origin(_scope(host="gw", origin="https://gw"))  # TLS ended at a proxy
    assert not same_origin(_scope(host="gw:8000", origin="http://evil:8000"))
    assert not same_origin(_scope(host="gw:8000", sec_fetch_site="same-site"))
    assert not same_origin(_scope(host="gw:8000", origin="null"))


def test_https_from_the_scheme_or_the_proxy() -> None:
    assert is_https({"scheme": "https", "headers": []})
    assert is_https(_scope(x_forwarded_proto="https, http"))
    assert not is_https(_scope(x_forwarded_proto="http"))


def test_cookie_values_are_read_bounded() -> None:
    assert cookie_value("a=1; gw_console=abc; b=2", "gw_console") == "abc"
    assert cookie_value("gw_console_login=x", "gw_console") is None
    assert cookie_value(None, "gw_console") is None
    assert len(cookie_value("gw_console=" + "x" * 5000, "gw_console") or "") == 128


def test_sessions_hold_no_key_and_end_at_delete() -> None:
    async def run() -> None:
        state = LocalState()
        store = SessionStore(state, 60)
        session_id, session = await store.create("team-a", False)
        assert await store.get(session_id) == session
        assert await state.get(f"console-session/{session_id}") is None  # kept under the id's hash
        assert await store.get("x" * 500) is None
        await store.delete(session_id)
        assert await store.get(session_id) is None

    asyncio.run(run())


def test_the_job_index_is_per_key_capped_and_newest_first() -> None:
    async def run() -> None:
        jobs = JobService(None, LocalState(), JobSettings(), "replica")  # type: ignore[arg-type]
        for i in range(MAX_LISTED_JOBS + 5):
            for client in ("team-a", "team-b"):
                record = JobRecord(f"imgjob_{client}_{i}", "running", int(time.time()), client, "m", "url", "r", 0.0)
                await jobs._save(record)
                await jobs._index(record)
        listed = await jobs.recent("team-a")
        assert len(listed) == MAX_LISTED_JOBS
        assert listed[0].id == f"imgjob_team-a_{MAX_LISTED_JOBS + 4}"
        assert all(record.client == "team-a" for record in listed)
        assert [r.id for r in await jobs.recent("team-a", 2)] == [r.id for r in listed[:2]]
        assert await jobs.recent(None) == []

    asyncio.run(run())


def test_login_attempts_count_per_ipv4_address_or_ipv6_64() -> None:
    assert address_bucket("127.0.0.1") == "127.0.0.1"
    assert address_bucket("2001:db8:1:2:aaaa::1") == address_bucket("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_bucket("2001:db8:1:3::1") != address_bucket("2001:db8:1:2::1")
    assert address_bucket("testclient") == "testclient"
