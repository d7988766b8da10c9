"""A thin, parameterised DB-API layer over SQLite (embedded default) and PostgreSQL.

SQL in this code base is written once with ``?`` placeholders; for PostgreSQL they are
rewritten to ``%s``. Values always travel as parameters, never formatted into SQL.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ogcsdl.errors import ServiceUnavailable


def dialect_of(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://...")


def refused_values(error: BaseException) -> bool:
    """Whether ``error`` is the database refusing the values of a statement (text too
    long for an index entry, NUL in text, a geometry PostGIS cannot parse, a constraint),
    not a lost connection or a busy database: the other rows of a batch can still be
    written one by one."""
    if isinstance(error, sqlite3.DataError | sqlite3.IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    errors = psycopg.errors
    return isinstance(
        error,
        psycopg.DataError
        | psycopg.IntegrityError
        | errors.ProgramLimitExceeded
        | errors.InternalError_,  # XX000: PostGIS's "parse error - invalid geometry"
    )


def sqlite_path(url: str) -> Path:
    """``sqlite:////abs/path.db`` or ``sqlite:///rel.db`` -> Path."""
    return Path(unquote(url[len("sqlite:///") :]))


class Connection:
    """One open connection; ``execute`` takes ``?`` placeholders on every dialect."""

    def __init__(self, raw: Any, dialect: str) -> None:
        self.raw = raw
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        cursor = self.raw.cursor()
        cursor.execute(sql, tuple(params))
        return cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many parameter rows (psycopg pipelines them: one round trip
        per batch, not per row)."""
        if not rows:
            return
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        cursor = self.raw.cursor()
        cursor.executemany(sql, [tuple(row) for row in rows])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(sql, params).fetchall())

    @contextmanager
    def pipelined(self) -> Iterator[Connection]:
        """PostgreSQL: statements of the block are sent without waiting for each one's
        result (psycopg's pipeline mode), so the server works on them while Python
        prepares the next; a statement that reads (``query``) waits for those before it,
        and the block's end waits for all (an error surfaces there at the latest).
        SQLite runs in-process: nothing to overlap."""
        if self.dialect != "postgresql":
            yield self
            return
        with self.raw.pipeline():
            yield self

    def columns(self, table: str) -> set[str]:
        """The column names of ``table`` (a name from our code, never a client's; empty
        when there is no such table)."""
        if self.dialect == "sqlite":
            return {str(row[1]) for row in self.query(f"PRAGMA table_info({table})")}
        rows = self.query(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?",
            (table,),
        )
        return {str(row[0]) for row in rows}

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction on this connection: committed when the block ends, rolled back
        when it raises (a :func:`session` runs several in turn)."""
        try:
            yield self
            self.raw.commit()
        except BaseException:
            self.raw.rollback()
            raise


@contextmanager
def connect(url: str, timeout_s: float = 10.0) -> Iterator[Connection]:
    """A connection in a transaction: committed on success, rolled back on error."""
    with session(url, timeout_s) as conn, conn.transaction():
        yield conn


@contextmanager
def session(url: str, timeout_s: float = 10.0) -> Iterator[Connection]:
    """One connection for many transactions (``conn.transaction()`` each), closed at the
    end (anything uncommitted is discarded). A PostgreSQL connection costs a server
    process: opening one per statement batch costs more server CPU than writing a page of
    records (its catalogue caches, the PostGIS library and the text-search dictionary
    are loaded again in every new process)."""
    raw, dialect = _open(url, timeout_s)
    try:
        yield Connection(raw, dialect)
    finally:
        raw.close()  # an uncommitted transaction is discarded (sqlite3 and PostgreSQL)


def _open(url: str, timeout_s: float) -> tuple[Any, str]:
    """A raw DB-API connection to ``url`` and its dialect."""
    dialect = dialect_of(url)
    if dialect == "sqlite":
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        raw: Any = sqlite3.connect(path, timeout=timeout_s)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA busy_timeout=10000")
    else:
        import psycopg

        try:
            raw = psycopg.connect(url, connect_timeout=int(timeout_s))
        except psycopg.OperationalError as exc:
            raise ServiceUnavailable(f"cannot reach the database: {exc}".strip()) from None
    return raw, dialect


class KeptConnection:
    """One connection per process and thread for small reads made often (a change
    stamp polled every second), reopened after it fails: a new PostgreSQL backend per
    read cost the server ~27 ms of CPU. Each read is its own committed transaction, so
    no snapshot or lock is held between reads; a forked child opens its own."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url, self.timeout_s = url, timeout_s
        self._local = threading.local()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                rows = conn.query(sql, params)
                conn.raw.commit()
                return rows
            except Exception:
                self._local.conn = None  # broken (a restarted server): reopen once
                try:
                    conn.raw.close()
                except Exception:  # noqa: BLE001, S110 - closing a broken connection
                    pass
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _connection(self) -> Connection:
        kept = getattr(self._local, "conn", None)
        if kept is not None and self._local.pid == os.getpid():
            return kept
        raw, dialect = _open(self.url, self.timeout_s)
        self._local.conn, self._local.pid = Connection(raw, dialect), os.getpid()
        return self._local.conn


@contextmanager
def transaction(url: str, conn: Connection | None = None) -> Iterator[Connection]:
    """A transaction on ``conn`` when one is given (a :func:`session`'s: many
    transactions, one connection), else on a connection of its own."""
    if conn is None:
        with connect(url) as own:
            yield own
    else:
        with conn.transaction():
            yield conn


def ping(url: str) -> None:
    """Raise if the database cannot answer a trivial query."""
    with connect(url, timeout_s=3) as conn:
        conn.query("SELECT 1")
