"""What the admin's status page shows, gathered from what the gateway already keeps.

Circuit states and upstream error codes are read from the metrics registry (the gauges and
counters the engine already sets), so the console adds no state of its own. Nothing here
holds a key: provider keys appear as their fingerprints, client keys by name.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge

from gateway.console.chart import BarChart, bar_chart
from gateway.engine.executor import Engine, Target
from gateway.engine.transport import Upstream
from gateway.observability.keystatus import KeyStatus, check_keys, publish
from gateway.runtime import Runtime

__all__ = ["Status", "gather_status"]

log = logging.getLogger(__name__)

#: The usage chart covers this many days, today included.
USAGE_DAYS = 7
_CIRCUIT = {0: "closed", 1: "half-open", 2: "open"}


@dataclass
class Status:
    keys: list[KeyStatus]
    breakers: list[tuple[str, str, str]]
    queues: list[tuple[str, str, int, int | None, float | None]]
    in_flight: int
    jobs_running: int
    shared_state: dict[str, object]
    errors: list[tuple[str, str, int]]
    usage: BarChart | None = None
    usage_rows: list[tuple[str, str, int, int]] = field(default_factory=list)
    #: Why there is no chart (ledger off, database unreachable), else None.
    usage_note: str | None = None


def _samples(metric: Counter | Gauge, suffix: str = "") -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in metric.collect()
        for sample in family.samples
        if sample.name.endswith(suffix)
    ]


def breaker_states(circuit: Gauge) -> list[tuple[str, str, str]]:
    samples = _samples(circuit)
    return sorted((labels["provider"], labels["model"], _CIRCUIT.get(int(value), "?")) for labels, value in samples)


def error_counts(errors: Counter) -> list[tuple[str, str, int]]:
    """Upstream errors since this replica started, by provider and provider error code."""
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for labels, value in _samples(errors, "_total"):
        totals[labels["provider"], labels["code"]] += value
    return sorted(((p, c, int(n)) for (p, c), n in totals.items() if n), key=lambda item: (-item[2], item[0], item[1]))


def _text(value: object) -> str:
    return value if isinstance(value, str) else "-"


def _usage(runtime: Runtime) -> tuple[BarChart | None, list[tuple[str, str, int, int]], str | None]:
    ledger = runtime.ledger
    if ledger is None:
        return None, [], "The usage ledger is off (usage.enabled: false)."
    from gateway.usage.database import describe_error
    from gateway.usage.query import parse_query
    from gateway.usage.report import totals

    since = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=USAGE_DAYS - 1)).isoformat()
    try:
        rows = totals(ledger.engine(), parse_query(since, None, "key,model"))
    except Exception as exc:  # the database, not the page: say so without its address
        log.warning("console usage report failed: %s", describe_error(exc))
        return None, [], "The usage database is unreachable."
    table = [(_text(row.key), _text(row.model), row.requests, row.images) for row in rows]
    return bar_chart([(f"{key} · {model}", images) for key, model, _, images in table]), table, None


async def gather_status(runtime: Runtime, state: Any) -> Status:
    upstream: Upstream = state.upstream
    targets: dict[str, Target] = state.targets
    engine: Engine = state.images.engine
    keys = await check_keys(upstream, list(targets.values()))
    publish(runtime.metrics, keys)
    usage, rows, note = await asyncio.to_thread(_usage, runtime)
    return Status(
        keys=keys,
        breakers=breaker_states(runtime.metrics.circuit),
        queues=sorted(engine.queues()),
        in_flight=runtime.in_flight,
        jobs_running=runtime.jobs.running if runtime.jobs is not None else 0,
        shared_state=runtime.shared.health() if runtime.shared is not None else {},
        errors=error_counts(runtime.metrics.upstream_errors),
        usage=usage,
        usage_rows=rows,
        usage_note=note,
    )
