"""The ledger's tables and their migrations, the same for SQLite and PostgreSQL.

The schema is versioned: ``schema_version`` holds the versions applied, and
:data:`MIGRATIONS` is the ordered list of steps from an empty database to now. At start
the missing steps run in one transaction; on PostgreSQL a transaction-scoped advisory
lock makes replicas starting together apply them once, on SQLite ``BEGIN IMMEDIATE``
does the same. Not Alembic: there is one table, no autogenerate or branching is needed,
and a list of functions in code keeps the migrations next to the tables they build.
A new column is a new function appended to the list, never an edit of an old one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "metadata", "migrate", "schema_version", "usage_records"]

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)

usage_records = sa.Table(
    "usage_records",
    metadata,
    # BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER PRIMARY KEY.
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("route", sa.String(64), nullable=False),
    sa.Column("client_key", sa.String(200)),
    sa.Column("requested_model", sa.String(200)),
    sa.Column("model", sa.String(200)),
    sa.Column("provider", sa.String(200)),
    sa.Column("images", sa.Integer, nullable=False),
    sa.Column("size", sa.String(200)),
    sa.Column("pixels", sa.BigInteger, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("error_code", sa.String(200)),
    sa.Column("est_cost", sa.Float),
    sa.Column("currency", sa.String(16)),
    sa.Index("usage_records_ts", "ts"),
    sa.Index("usage_records_day_key", "day", "client_key"),
)

#: Any fixed number: it names this application's lock among others on the same server.
_ADVISORY_LOCK = 0x1EDC0DE


def _v1_usage_records(conn: Connection) -> None:
    # The table as declared above, with its indexes. The first migration that changes the
    # table must first copy this declaration into this step, frozen as version 1.
    usage_records.create(conn)


#: Step ``i`` brings the schema to version ``i + 1``.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1_usage_records]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(engine: Engine) -> int:
    """Apply the missing migrations in one transaction; the version the database is at after."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        elif conn.dialect.name == "sqlite":
            # pysqlite opens no transaction before DDL: take the write lock ourselves.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        schema_version.create(conn, checkfirst=True)
        current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
        if current > SCHEMA_VERSION:
            raise RuntimeError(f"the usage database is at schema version {current}, newer than this gateway's")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version - 1](conn)
            conn.execute(sa.insert(schema_version).values(version=version, applied_at=time.time()))
    return SCHEMA_VERSION
