"""The usage ledger end to end: requests through the openai SDK, totals from /admin/usage and the CLI.

SQLite (the default, no setup), PostgreSQL shared by two replicas (a real server from Debian's
``postgresql``, started once for the session), and a dead database that fails no request.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import GatewayFactory, openai_client
from tests.e2e.test_jobs import submit, wait_for
from tests.servers import LOG_DIR, PostgresServer, Server, clean_env, free_port, new_key, start_postgres

LEDGER = """
keys:
  - {name: team-a, key: "${TEAM_A}"}
  - {name: team-b, key: "${TEAM_B}"}
admin_key: "${ADMIN}"
prices:
  qwen-image-max: {amount: 0.03, currency: USD}
usage:
  database_url: "${USAGE_DATABASE_URL}"
  flush_seconds: 0.1
"""
#: wan2.7-image's catalog price in the cn region (providers/dashscope/catalog.yaml).
WAN27_CNY = 0.20
TOTALS = ("requests", "images", "pixels", "errors")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


class Team:
    """What one key made, as the SDK saw it: the totals its ledger rows must add up to."""

    def __init__(self) -> None:
        self.requests = self.images = self.pixels = self.errors = 0
        self.cost: dict[str, float] = defaultdict(float)

    def made(self, result: Any, cost: float | None = None, currency: str | None = None) -> None:
        self.requests += 1
        self.images += len(result.data or [])
        width, _, height = (result.size or "").partition("x")
        self.pixels += int(width) * int(height) * len(result.data or [])
        if cost is not None and currency is not None:
            self.cost[currency] += cost

    def failed(self) -> None:
        self.requests += 1
        self.errors += 1


def per_key(rows: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    """Rows summed per key (a key has a row per model and currency); costs per currency."""
    keys: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        total = keys.setdefault(row["key"], {**dict.fromkeys(TOTALS, 0), "cost": defaultdict(float)})
        for name in TOTALS:
            total[name] += int(row[name])
        if row["est_cost"] not in (None, ""):
            total["cost"][row["currency"]] += float(row["est_cost"])
    return keys


def usage(gateway: Server, admin: str, **params: str) -> httpx.Response:
    return httpx.get(gateway.url + "/admin/usage", params=params, headers={"authorization": f"Bearer {admin}"})


def wait_for_rows(gateway: Server, admin: str, requests: int, timeout: float = 20) -> list[dict[str, Any]]:
    """The rows once the ledger holds ``requests`` records (the writer flushes every 0.1 s here)."""
    deadline = time.monotonic() + timeout
    while True:
        response = usage(gateway, admin, group_by="key,model")
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["data"]
        if sum(row["requests"] for row in rows) >= requests or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def assert_matches(rows: list[dict[str, Any]], teams: dict[str | None, Team]) -> None:
    found = per_key(rows)
    assert set(found) == set(teams), rows
    for key, team in teams.items():
        got = found[key]
        assert [got[name] for name in TOTALS] == [getattr(team, name) for name in TOTALS], (key, rows)
        assert set(got["cost"]) == set(team.cost), (key, rows)
        for currency, amount in team.cost.items():
            assert got["cost"][currency] == pytest.approx(amount, abs=1e-6), (key, currency, rows)


def test_sqlite_totals_match_the_requests_made_per_key(gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    team_a, team_b, admin = new_key("gw-"), new_key("gw-"), new_key("adm-")
    data = tmp_path / "data"
    gateway = gateway_factory(
        extra=LEDGER, TEAM_A=team_a, TEAM_B=team_b, ADMIN=admin, GATEWAY_DATA_DIR=str(data), USAGE_DATABASE_URL=""
    )
    a, b = openai_client(gateway, api_key=team_a), openai_client(gateway, api_key=team_b)
    teams = {"team-a": Team(), "team-b": Team(), None: Team()}

    teams["team-a"].made(a.images.generate(model="wan2.7-image", prompt="p", n=2), 2 * WAN27_CNY, "CNY")
    teams["team-a"].made(a.images.generate(model="dall-e-3", prompt="p"), WAN27_CNY, "CNY")  # alias -> wan2.7
    for _ in range(2):
        teams["team-b"].made(b.images.generate(model="qwen-image-max", prompt="p"), 0.03, "USD")
    with pytest.raises(openai.BadRequestError):
        b.images.generate(model="qwen-image-max", prompt="p", size="banana")
    teams["team-b"].failed()
    with pytest.raises(openai.AuthenticationError):
        openai_client(gateway, api_key="sk-not-a-key").images.generate(prompt="p")
    teams[None].failed()
    # An async job is one record, written when it ends: its 202 is not one.
    accepted = submit(gateway, {"model": "wan2.7-image", "prompt": "job"}, {"prefer": "respond-async"} | bearer(team_a))
    assert accepted.status_code == 202, accepted.text
    job = wait_for(gateway, accepted.headers["location"], headers=bearer(team_a))
    assert job["status"] == "succeeded"
    teams["team-a"].made(openai.types.ImagesResponse.model_validate(job), WAN27_CNY, "CNY")

    rows = wait_for_rows(gateway, admin, requests=7)
    assert_matches(rows, teams)
    assert all(set(row) == {"key", "model", *TOTALS, "est_cost", "currency"} for row in rows), rows
    assert {row["model"] for row in rows if row["key"] == "team-a"} == {"wan2.7-image"}

    csv_answer = usage(gateway, admin, group_by="key,model", format="csv")
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert csv_answer.text.splitlines()[0] == "key,model,requests,images,pixels,errors,est_cost,currency"
    from_csv = [{**row, "key": row["key"] or None} for row in csv.DictReader(io.StringIO(csv_answer.text))]
    assert_matches(from_csv, teams)

    by_day = usage(gateway, admin, group_by="day", **{"from": time.strftime("%Y-%m-%d", time.gmtime())}).json()
    assert sum(row["requests"] for row in by_day["data"]) == 7
    assert usage(gateway, admin, group_by="day", to="2000-01-01").json()["data"] == []

    cli = run_cli(tmp_path, f"sqlite:///{data}/usage.db", "--group-by", "key,model")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["data"] == rows

    for body in (json.dumps(rows), csv_answer.text, cli.stdout, cli.stderr):
        assert team_a not in body and team_b not in body and admin not in body


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def run_cli(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / f"cli-{free_port()}.yaml"
    config.write_text('providers: {dashscope: {kind: dashscope}}\nusage: {database_url: "${USAGE_DATABASE_URL}"}\n')
    env = clean_env({"USAGE_DATABASE_URL": database_url})
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "usage", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / "usage-cli.log").open("a") as out:  # for the session's secret scan
        out.write(f"{args}\n{result.stdout}\n{result.stderr}\n")
    return result


def test_bad_report_parameters_are_400s_naming_them(gateway_factory: GatewayFactory) -> None:
    admin = new_key("adm-")
    gateway = gateway_factory(extra='admin_key: "${ADMIN}"\n', ADMIN=admin)
    for params, param in (
        ({"group_by": "key,colour"}, "group_by"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ({"format": "xml"}, "format"),
    ):
        answer = usage(gateway, admin, **params)
        assert answer.status_code == 400, (params, answer.text)
        assert answer.json()["error"]["param"] == param
    assert httpx.get(gateway.url + "/admin/usage").status_code == 401
    assert usage(gateway, "sk-wrong").status_code == 401


def test_two_replicas_share_one_postgresql_ledger(
    gateway_factory: GatewayFactory, postgres: PostgresServer, tmp_path: Path
) -> None:
    team_a, team_b, admin = new_key("gw-"), new_key("gw-"), new_key("adm-")
    env = {"TEAM_A": team_a, "TEAM_B": team_b, "ADMIN": admin, "USAGE_DATABASE_URL": postgres.url()}
    replicas = [gateway_factory(extra=LEDGER, **env) for _ in range(2)]  # both migrate the empty database
    clients = {
        (key, i): openai_client(replica, api_key=secret)
        for i, replica in enumerate(replicas)
        for key, secret in (("team-a", team_a), ("team-b", team_b))
    }
    teams = {"team-a": Team(), "team-b": Team()}
    calls = [("team-a" if i % 3 else "team-b", i % 2, i) for i in range(18)]

    def call(target: tuple[str, int, int]) -> tuple[str, Any]:
        key, replica, i = target
        # Distinct prompts: identical ones in flight together share one upstream call (and its cost).
        return key, clients[(key, replica)].images.generate(model="qwen-image-max", prompt=f"p {i}")

    with ThreadPoolExecutor(6) as pool:
        for key, result in pool.map(call, calls):
            teams[key].made(result, 0.03, "USD")
    with pytest.raises(openai.BadRequestError):
        clients[("team-b", 1)].images.generate(model="qwen-image-max", prompt="p", n=0)
    teams["team-b"].failed()

    rows = wait_for_rows(replicas[0], admin, requests=len(calls) + 1)
    assert_matches(rows, teams)
    assert wait_for_rows(replicas[1], admin, requests=len(calls) + 1) == rows  # one ledger, either replica

    cli = run_cli(tmp_path, postgres.url(), "--group-by", "key,model", "--format", "csv")
    assert cli.returncode == 0, cli.stderr
    assert_matches(list(csv.DictReader(io.StringIO(cli.stdout))), teams)
    for replica in replicas:
        assert postgres.password not in replica.output()
        assert "ledger:***@127.0.0.1" in replica.output()  # the URL is only ever shown masked


def metric(gateway: Server, name: str) -> dict[str, float]:
    text = httpx.get(gateway.url + "/metrics").text
    return {labels: float(value) for labels, value in re.findall(rf"^{name}(\{{[^}}]*\}}|) (\S+)$", text, re.M)}


def test_a_dead_database_fails_and_slows_no_request(gateway_factory: GatewayFactory) -> None:
    password, admin = new_key("pg"), new_key("adm-")
    closed = free_port()  # nothing listens there
    dead = f"postgresql://ledger:{password}@127.0.0.1:{closed}/ledger"
    settings = f'database_url: "{dead}", flush_seconds: 0.1, buffer: 1, write_attempts: 2'
    extra = f'admin_key: "${{ADMIN}}"\nusage: {{{settings}}}\n'
    gateway = gateway_factory(extra=extra, ADMIN=admin)
    client = openai_client(gateway)
    made = 6
    for _ in range(made):
        started = time.monotonic()
        assert client.images.generate(model="qwen-image-max", prompt="p").data
        assert time.monotonic() - started < 2  # the emulator answers in ~0.05 s; the ledger adds nothing
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        dropped = metric(gateway, "gateway_usage_dropped_total")
        if sum(dropped.values()) >= made:
            break
        time.sleep(0.2)
    # Every record lost is counted: the buffer (1) was full, or the database refused the batch.
    assert sum(dropped.values()) == made, dropped
    assert dropped['{reason="write_failed"}'] >= 1 and dropped['{reason="buffer_full"}'] >= 1, dropped
    assert metric(gateway, "gateway_usage_database_up") == {"": 0.0}
    assert httpx.get(gateway.url + "/readyz").status_code == 200
    report = usage(gateway, admin)
    assert report.status_code == 503 and report.json()["error"]["message"] == "The usage database is unreachable"
    gateway.stop()
    assert password not in gateway.output()
    assert "usage ledger:" in gateway.output()  # the loss is logged
