"""The ledger's writer: a bounded buffer drained by one background thread, in batches.

A request only ever does ``put_nowait``: when the buffer is full the record is dropped,
counted in ``gateway_usage_dropped_total{reason}`` and logged (at most every few seconds).
The buffer is a deque the request side appends to and the writer drains: unlike
``queue.Queue`` it does not wake the writer (a thread switch and a GIL handover) for every
record, only when a batch is full or the flush interval has passed.
The thread owns all database work (a synchronous SQLAlchemy engine): it applies the
schema's migrations when it first reaches the database, and again until they succeed, so a
database that is down at start stops nothing; a batch that cannot be written is retried a
few times with backoff, then dropped and counted as ``write_failed``. On shutdown what is
buffered is written, for at most a few seconds.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec

from gateway.observability.metrics import Metrics
from gateway.settings import UsageSettings
from gateway.usage.record import UsageRecord

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["Ledger"]

log = logging.getLogger(__name__)

#: A warning about lost records is logged at most this often (per reason); the metric counts all.
WARN_EVERY = 10.0
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 5.0
#: Why records are lost: the buffer was full, the database refused the batch every time,
#: or the process stopped before they were written.
REASONS = ("buffer_full", "write_failed", "shutdown")


class Ledger:
    def __init__(self, settings: UsageSettings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._buffer: collections.deque[UsageRecord] = collections.deque()
        #: Set when a batch is full or on shutdown: the writer need not wait out its interval.
        self._wake = threading.Event()
        self._stopping = threading.Event()
        #: The insert in the driver's own SQL, and the field order of its positional parameters.
        self._insert_sql: tuple[str, tuple[str, ...] | None] | None = None
        self._thread = threading.Thread(target=self._run, name="usage-ledger", daemon=True)
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        self._migrated = False
        self._warned: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._warn_lock = threading.Lock()
        for reason in REASONS:  # present from the start, at 0: an alert can watch their rate
            metrics.of(metrics.usage_dropped, reason)

    # ----------------------------------------------------------------- request side

    def record(self, record: UsageRecord) -> None:
        if self._stopping.is_set():
            self._dropped("shutdown", 1)
            return
        buffer = self._buffer
        # Only this (event-loop) side appends, so the length checked is never exceeded.
        if len(buffer) >= self.settings.buffer:
            self._dropped("buffer_full", 1)
            return
        buffer.append(record)
        if len(buffer) == self.settings.batch_size:
            self._wake.set()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # ------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is buffered, for at most ``timeout`` seconds; count the rest as dropped."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        left = len(self._drain())
        if left:
            self._dropped("shutdown", left)
        if self._engine is not None and not self._thread.is_alive():
            self._engine.dispose()

    # ------------------------------------------------------------------- database

    def engine(self) -> Engine:
        """The engine, opened (and the schema migrated) on first use; raises when the database is unreachable."""
        with self._engine_lock:
            if self._engine is None:
                from gateway.usage.database import open_engine, parse_url, shown

                self._engine = open_engine(self.settings.database_url)
                log.info("usage ledger: %s", shown(parse_url(self.settings.database_url)))
            if not self._migrated:
                from gateway.usage.schema import migrate

                version = migrate(self._engine)
                self._migrated = True
                log.info("usage ledger: schema at version %d", version)
            return self._engine

    def _insert(self, batch: list[UsageRecord]) -> None:
        engine = self.engine()
        if self._insert_sql is None:
            from sqlalchemy import bindparam

            from gateway.usage.schema import usage_records

            # Compiled once, in the driver's own parameter style: compiling the insert per
            # batch and binding each row through SQLAlchemy cost more than the write.
            fields = UsageRecord.__struct_fields__
            compiled = usage_records.insert().values({f: bindparam(f) for f in fields}).compile(dialect=engine.dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            self._insert_sql = (str(compiled), order)
        sql, order = self._insert_sql
        rows: list[Any]
        if order is None:
            rows = [msgspec.structs.asdict(r) for r in batch]
        elif order == UsageRecord.__struct_fields__:
            rows = [msgspec.structs.astuple(r) for r in batch]
        else:
            rows = [tuple(row[f] for f in order) for row in map(msgspec.structs.asdict, batch)]
        with engine.begin() as conn:
            conn.exec_driver_sql(sql, rows)

    # ---------------------------------------------------------------- writer thread

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch:
                self._write(batch)
            elif self._stopping.is_set() and not self._buffer:
                return

    def _next_batch(self) -> list[UsageRecord]:
        """Up to a batch of records: at once when a batch is waiting, else after the flush interval."""
        if len(self._buffer) < self.settings.batch_size and not self._stopping.is_set():
            self._wake.wait(self.settings.flush_seconds)
        self._wake.clear()
        batch: list[UsageRecord] = []
        buffer = self._buffer
        while buffer and len(batch) < self.settings.batch_size:
            batch.append(buffer.popleft())
        return batch

    def _write(self, batch: list[UsageRecord]) -> None:
        from gateway.usage.database import describe_error

        delay = BACKOFF_INITIAL
        for attempt in range(1, self.settings.write_attempts + 1):
            try:
                self._insert(batch)
            except Exception as exc:
                self.metrics.usage_database_up.set(0)
                self._warn("write_error", f"usage ledger: writing {len(batch)} records failed ({describe_error(exc)})")
                if attempt == self.settings.write_attempts or self._stopping.wait(delay):
                    break  # out of attempts, or shutting down: no more waiting
                delay = min(delay * 2, BACKOFF_MAX)
            else:
                self.metrics.usage_database_up.set(1)
                self.metrics.usage_written.inc(len(batch))
                return
        self._dropped("write_failed", len(batch))

    def _drain(self) -> list[UsageRecord]:
        items = []
        while self._buffer:
            items.append(self._buffer.popleft())
        return items

    # ------------------------------------------------------------------ accounting

    def _dropped(self, reason: str, count: int) -> None:
        self.metrics.of(self.metrics.usage_dropped, reason).inc(count)
        self._warn(reason, f"usage ledger: {count} records dropped ({reason})", count)

    def _warn(self, reason: str, message: str, count: int = 0) -> None:
        now = time.monotonic()
        with self._warn_lock:
            if now - self._warned.get(reason, -WARN_EVERY) < WARN_EVERY:
                self._suppressed[reason] = self._suppressed.get(reason, 0) + count
                return
            self._warned[reason] = now
            earlier = self._suppressed.pop(reason, 0)
        log.warning("%s%s", message, f"; {earlier} more since the last warning" if earlier else "")
