"""Shared state in one SQLite file: what the workers of one pod share when there is no Redis.

``serve --workers N`` without ``redis_url`` gives every worker a SqliteState on the same file
(the supervisor makes a fresh one at each start), so rate limits, pacing, the response cache,
single-flight, jobs, webhook deliveries and console sessions hold for the pod as a whole,
exactly as with Redis between replicas. Like Redis without persistence the state is
ephemeral: WAL with ``synchronous=OFF`` (a crash may lose the last writes, never corrupt
what the other workers read), and every row carries an expiry and is swept.

Times are ``time.monotonic()``: on Linux that clock is the same for every process of the
host, and the file is never shared beyond one host. Every read-modify-write is one
``BEGIN IMMEDIATE`` transaction, so two workers never both take the last slot.

Operations are batched: those a worker asks for in one turn of its event loop run in one
``BEGIN IMMEDIATE`` transaction, in the order they were asked, on the loop's thread. Each
sees the effects of the ones before it, and the other workers see all of them or none. Under
load that is a handful of operations per transaction, so the write lock is taken and the WAL
written once for them all: with two workers writing flat out, one lock per operation cost
more in waiting than the operations themselves (bench/workers_common.py). SQLite's own busy
handler would sleep with the loop stopped, so it is off: a worker that finds another holding
the write lock tries again after a short ``loop.call_later``, and the operations asked for
meanwhile join the batch.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gateway.state.flights import FlightLocks

__all__ = ["SqliteState"]

T = TypeVar("T")
log = logging.getLogger(__name__)

#: How long operations wait for another worker's write lock before they fail...
BUSY_TIMEOUT = 5.0
#: ...trying again after this long, doubling up to BUSY_RETRY_MAX.
BUSY_RETRY = 0.0002
BUSY_RETRY_MAX = 0.005
Op = Callable[[sqlite3.Connection, float], Any]
#: Expired rows are deleted this often (each table also has an index on its expiry).
SWEEP_SECONDS = 10.0
#: A queue member outlives its last change by this long, as in RedisState.
QUEUE_TTL = 2 * 86_400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS hits_key ON hits (key, at);
CREATE INDEX IF NOT EXISTS hits_expires ON hits (expires);
CREATE TABLE IF NOT EXISTS pace (key TEXT PRIMARY KEY, next_free REAL NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS pace_expires ON pace (expires);
CREATE TABLE IF NOT EXISTS slots (
  key TEXT NOT NULL, holder TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (key, holder));
CREATE INDEX IF NOT EXISTS slots_expires ON slots (expires);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL NOT NULL);

CREATE TABLE IF NOT EXISTS queue (
  queue TEXT NOT NULL, member TEXT NOT NULL, due REAL NOT NULL, payload BLOB NOT NULL,
  expires REAL NOT NULL, PRIMARY KEY (queue, member));
CREATE INDEX IF NOT EXISTS queue_due ON queue (queue, due);
CREATE INDEX IF NOT EXISTS queue_expires ON queue (expires);
"""
_TABLES = ("hits", "pace", "slots", "kv", "queue")


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:  # workers starting together: changing the journal mode does not wait on its own
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA mmap_size=268435456")
    conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
    conn.execute("PRAGMA busy_timeout=0")  # from here on, waits are asyncio sleeps (SqliteState._run)
    return conn


class SqliteState:
    distributed = True

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.conn = _connect(self.path)
        #: Who leads each single-flight (see gateway/state/flights.py): no write per request.
        self.flights = FlightLocks(self.path + ".flights")
        self.next_sweep = time.monotonic() + SWEEP_SECONDS
        self.pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self.flushing: asyncio.Handle | asyncio.TimerHandle | None = None
        self.retry, self.deadline = BUSY_RETRY, 0.0
        #: Times a batch found the write lock taken and waited; batches run; operations run.
        self.waits = self.batches = self.ops = 0

    async def _run(self, op: Callable[[sqlite3.Connection, float], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self.pending.append((op, future))
        if self.flushing is None:
            self.retry, self.deadline = BUSY_RETRY, time.monotonic() + BUSY_TIMEOUT
            self.flushing = loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        """Run every pending operation in one transaction (or try again shortly if locked)."""
        now = time.monotonic()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _locked(exc) and now < self.deadline:
                self.waits += 1
                self.flushing = asyncio.get_running_loop().call_later(self.retry, self._flush)
                self.retry = min(BUSY_RETRY_MAX, self.retry * 2)
                return
            self._fail(self.pending, exc)
            return
        batch, self.pending, self.flushing = self.pending, [], None
        results: list[Any] = []
        try:
            if now >= self.next_sweep:
                self._sweep(now)
                self.next_sweep = now + SWEEP_SECONDS
            results = [op(self.conn, now) for op, _ in batch]
            self.conn.execute("COMMIT")
        except Exception as exc:  # a full disk, a bug: none of the batch happened
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self._fail(batch, exc)
            return
        self.batches += 1
        self.ops += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # its caller may have been cancelled; the operation still ran
                future.set_result(result)

    def _fail(self, batch: list[tuple[Op, asyncio.Future[Any]]], exc: Exception) -> None:
        if batch is self.pending:
            self.pending, self.flushing = [], None
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)

    def _sweep(self, now: float) -> None:
        for table in _TABLES:
            self.conn.execute(f"DELETE FROM {table} WHERE expires <= ?", (now,))  # fixed table names

    async def admit(self, key: str, limit: int, window: float) -> float | None:
        def op(conn: sqlite3.Connection, now: float) -> float | None:
            conn.execute("DELETE FROM hits WHERE key = ? AND at <= ?", (key, now - window))
            count, oldest = conn.execute("SELECT count(*), min(at) FROM hits WHERE key = ?", (key,)).fetchone()
            if count >= limit:
                return float(oldest) + window - now
            conn.execute("INSERT INTO hits VALUES (?, ?, ?)", (key, now, now + window))
            return None

        return await self._run(op)

    async def reserve(self, key: str, interval: float, budget: float) -> float | None:
        def op(conn: sqlite3.Connection, now: float) -> float | None:
            row = conn.execute("SELECT next_free FROM pace WHERE key = ?", (key,)).fetchone()
            start = max(now, row[0] if row else 0.0)
            if start - now > budget:
                return None
            following = start + interval
            conn.execute("INSERT OR REPLACE INTO pace VALUES (?, ?, ?)", (key, following, following + 1.0))
            return start - now

        return await self._run(op)

    async def acquire(self, key: str, limit: int, holder: str, lease: float) -> bool:
        def op(conn: sqlite3.Connection, now: float) -> bool:
            conn.execute("DELETE FROM slots WHERE key = ? AND expires <= ?", (key, now))
            (held,) = conn.execute("SELECT count(*) FROM slots WHERE key = ?", (key,)).fetchone()
            if held >= limit:
                return False
            conn.execute("INSERT OR REPLACE INTO slots VALUES (?, ?, ?)", (key, holder, now + lease))
            return True

        return await self._run(op)

    async def release(self, key: str, holder: str) -> None:
        await self._run(lambda conn, _: conn.execute("DELETE FROM slots WHERE key = ? AND holder = ?", (key, holder)))

    async def get(self, key: str) -> bytes | None:
        def op(conn: sqlite3.Connection, now: float) -> bytes | None:
            row = conn.execute("SELECT value FROM kv WHERE key = ? AND expires > ?", (key, now)).fetchone()
            return bytes(row[0]) if row else None

        return await self._run(op)

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        await self._run(
            lambda conn, now: conn.execute(
                "INSERT INTO kv VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = excluded.value, expires = excluded.expires",
                (key, value, now + ttl),
            )
        )

    async def claim(self, key: str, owner: str, ttl: float) -> bool:
        def op(conn: sqlite3.Connection, now: float) -> bool:
            # One statement, so one atomic write: an expired value counts as unset.
            cursor = conn.execute(
                "INSERT INTO kv VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = excluded.value, expires = excluded.expires WHERE kv.expires <= ?",
                (key, owner.encode(), now + ttl, now),
            )
            return cursor.rowcount == 1

        return await self._run(op)

    async def delete(self, key: str) -> None:
        await self._run(lambda conn, _: conn.execute("DELETE FROM kv WHERE key = ?", (key,)))

    async def schedule(self, queue: str, member: str, payload: bytes, delay: float, limit: int) -> bool:
        def op(conn: sqlite3.Connection, now: float) -> bool:
            queued = conn.execute("SELECT 1 FROM queue WHERE queue = ? AND member = ?", (queue, member)).fetchone()
            if queued is None:
                (members,) = conn.execute("SELECT count(*) FROM queue WHERE queue = ?", (queue,)).fetchone()
                if members >= limit:
                    return False
            conn.execute(
                "INSERT OR REPLACE INTO queue VALUES (?, ?, ?, ?, ?)",
                (queue, member, now + max(0.0, delay), payload, now + QUEUE_TTL),
            )
            return True

        return await self._run(op)

    async def take_due(self, queue: str, limit: int, lease: float) -> list[tuple[str, bytes]]:
        def op(conn: sqlite3.Connection, now: float) -> list[tuple[str, bytes]]:
            rows = conn.execute(
                "SELECT member, payload FROM queue WHERE queue = ? AND due <= ? ORDER BY due LIMIT ?",
                (queue, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE queue SET due = ? WHERE queue = ? AND member = ?",
                [(now + lease, queue, member) for member, _ in rows],
            )
            return [(str(member), bytes(payload)) for member, payload in rows]

        return await self._run(op)

    async def done(self, queue: str, member: str) -> None:
        sql = "DELETE FROM queue WHERE queue = ? AND member = ?"
        await self._run(lambda conn, _: conn.execute(sql, (queue, member)))

    def health(self) -> dict[str, object]:
        return {"shared_state": "sqlite (shared by this pod's workers)"}

    def close(self) -> None:
        log.info(
            "shared state (sqlite) closed",
            extra={"fields": {"operations": self.ops, "transactions": self.batches, "lock_waits": self.waits}},
        )
        self.conn.close()
        self.flights.close()

    async def aclose(self) -> None:
        self.close()
