"""Opening the ledger's database: one SQLAlchemy engine for SQLite or PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from providers.redact import remember, scrub
from providers.secret import Secret

__all__ = ["describe_error", "open_engine", "parse_url", "shown"]

#: Seconds to wait for a connection, a lock or a statement: a slow database delays the
#: writer thread (and the report), never a request, but must not hang it either.
TIMEOUT = 5


def parse_url(secret: Secret) -> URL:
    url = sa.make_url(secret.reveal())
    if url.password:
        remember(str(url.password))  # so no error text carries it out
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3, not SQLAlchemy's default psycopg2
    return url


def shown(url: URL) -> str:
    """The URL with its password masked: the only form that is ever printed."""
    return url.render_as_string(hide_password=True)


def open_engine(secret: Secret) -> Engine:
    url = parse_url(secret)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": TIMEOUT})

        @sa.event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _record: Any) -> None:
            # Readers (the report, the CLI) and the writer do not block each other.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return sa.create_engine(
        url,
        pool_size=2,
        max_overflow=2,
        pool_pre_ping=True,
        pool_recycle=300,
        connect_args={"connect_timeout": TIMEOUT, "options": f"-c statement_timeout={TIMEOUT * 1000}"},
    )


def describe_error(exc: BaseException) -> str:
    """What went wrong, for a log line: the driver's first line, scrubbed; no SQL, no parameters."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return scrub(f"{type(cause).__name__}: {first}", 300)
