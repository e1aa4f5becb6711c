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

Operations run on the event loop's thread: one costs about 7 µs (a read) to 40 µs (a
write), less than the hop to a thread would (about 100 µs, measured in bench/workers.py).
SQLite's own busy handler would sleep with the loop stopped (up to 100 ms seen with two
workers writing flat out), so it is off: an operation that finds another worker holding the
write lock gives up at once and is tried again after an ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["SqliteState"]

T = TypeVar("T")

#: How long an operation waits for another worker's write lock before it fails...
BUSY_TIMEOUT = 5.0
#: ...trying again after this long, doubling up to BUSY_RETRY_MAX.
BUSY_RETRY = 0.0002
BUSY_RETRY_MAX = 0.005
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
CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires);
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
    conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
    conn.execute("PRAGMA busy_timeout=0")  # from here on, waits are asyncio sleeps (SqliteState._run)
    return conn


class SqliteState:
    distributed = True

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.conn = _connect(self.path)
        self.next_sweep = time.monotonic() + SWEEP_SECONDS
        #: Operations that found the write lock taken and waited (for tests and benchmarks).
        self.waits = 0

    async def _run(self, op: Callable[[sqlite3.Connection, float], T]) -> T:
        retry, deadline = BUSY_RETRY, time.monotonic() + BUSY_TIMEOUT
        while True:
            now = time.monotonic()
            try:
                if now >= self.next_sweep:
                    self._sweep(now)
                    self.next_sweep = now + SWEEP_SECONDS
                return op(self.conn, now)
            except sqlite3.OperationalError as exc:
                if not _locked(exc) or now > deadline:
                    raise
            self.waits += 1
            await asyncio.sleep(retry)
            retry = min(BUSY_RETRY_MAX, retry * 2)

    def _sweep(self, now: float) -> None:
        with _immediate(self.conn):
            for table in _TABLES:
                self.conn.execute(f"DELETE FROM {table} WHERE expires <= ?", (now,))  # fixed table names

    async def admit(self, key: str, limit: int, window: float) -> float | None:
        def op(conn: sqlite3.Connection, now: float) -> float | None:
            with _immediate(conn):
                conn.execute("DELETE FROM hits WHERE key = ? AND at <= ?", (key, now - window))
                count, oldest = conn.execute("SELECT count(*), min(at) FROM hits WHERE key = ?", (key,)).fetchone()
                if count >= limit:
                    return float(oldest) + window - now
                conn.execute("INSERT INTO hits VALUES (?, ?, ?)", (key, now, now + window))
                return None

        return await self._run(op)

    async def reserve(self, key: str, interval: float, budget: float) -> float | None:
        def op(conn: sqlite3.Connection, now: float) -> float | None:
            with _immediate(conn):
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
            with _immediate(conn):
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
            lambda conn, now: conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (key, value, now + ttl))
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
            with _immediate(conn):
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
            with _immediate(conn):
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
        self.conn.close()

    async def aclose(self) -> None:
        self.close()


class _immediate:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an error): the write lock taken at once."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
