"""Per-source harvest state in the suite's database: which records each source owns
(and their remote modification time), the high-water mark of the last successful run,
when the source was last listed completely (reconciliation), and failures with the time
of the next attempt (exponential backoff)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.catalogue.store import TABLE as PRODUCTS
from ogcsdl.config import HarvestSettings
from ogcsdl.db import Connection, connect, transaction
from ogcsdl.harvest.model import HarvestSource

SOURCES = "ogcsdl_harvest_sources"
OWNED = "ogcsdl_harvest_records"

_SCHEMA = [
    f"""CREATE TABLE IF NOT EXISTS {SOURCES} (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        protocol TEXT NOT NULL,
        options TEXT NOT NULL,
        high_water TEXT,
        last_success TEXT,
        last_attempt TEXT,
        last_error TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT
    )""",
    f"""CREATE TABLE IF NOT EXISTS {OWNED} (
        identifier TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        updated TEXT NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS {OWNED}_source_idx ON {OWNED} (source)",
]


@dataclass(frozen=True)
class SourceState:
    name: str
    url: str
    protocol: str
    high_water: datetime | None
    last_success: datetime | None
    last_full: datetime | None  # last complete listing (remote deletions applied)
    last_error: str | None
    failures: int
    next_attempt: datetime | None
    records: int


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _options(source: HarvestSource) -> str:
    return json.dumps({"collection": source.collection, "bbox": source.bbox}, sort_keys=True)


class HarvestState:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def ensure_schema(self) -> None:
        """Called by :func:`ogcsdl.schema.create_schema` at start-up."""
        with connect(self.database_url) as conn:
            for statement in _SCHEMA:
                conn.execute(statement)
        self._add_last_full_column()

    def _add_last_full_column(self) -> None:
        """Tables made before reconciliation existed get the column."""
        try:
            with connect(self.database_url) as conn:
                conn.query(f"SELECT last_full FROM {SOURCES} LIMIT 0")
        except Exception:  # noqa: BLE001 - sqlite3/psycopg: no such column
            with connect(self.database_url) as conn:
                conn.execute(f"ALTER TABLE {SOURCES} ADD COLUMN last_full TEXT")

    def register(self, source: HarvestSource, conn: Connection | None = None) -> None:
        """Remember the source; a changed URL, protocol or filter starts it afresh
        (full harvest: the high-water mark belonged to another query)."""
        options = _options(source)
        with transaction(self.database_url, conn) as conn:
            rows = conn.query(
                f"SELECT url, protocol, options FROM {SOURCES} WHERE name = ?", (source.name,)
            )
            if not rows:
                conn.execute(
                    f"INSERT INTO {SOURCES} (name, url, protocol, options) VALUES (?, ?, ?, ?)",
                    (source.name, source.url, source.protocol, options),
                )
            elif tuple(rows[0]) != (source.url, source.protocol, options):
                conn.execute(
                    f"""UPDATE {SOURCES} SET url = ?, protocol = ?, options = ?,
                        high_water = NULL WHERE name = ?""",
                    (source.url, source.protocol, options, source.name),
                )

    def get(self, name: str, conn: Connection | None = None) -> SourceState | None:
        with transaction(self.database_url, conn) as conn:
            rows = conn.query(
                f"""SELECT name, url, protocol, high_water, last_success, last_full,
                        last_error, failures, next_attempt,
                        (SELECT COUNT(*) FROM {OWNED} WHERE source = {SOURCES}.name)
                    FROM {SOURCES} WHERE name = ?""",
                (name,),
            )
        if not rows:
            return None
        row = rows[0]
        return SourceState(
            row[0],
            row[1],
            row[2],
            _time(row[3]),
            _time(row[4]),
            _time(row[5]),
            row[6],
            int(row[7]),
            _time(row[8]),
            int(row[9]),
        )

    def names(self) -> list[str]:
        with connect(self.database_url) as conn:
            return [row[0] for row in conn.query(f"SELECT name FROM {SOURCES} ORDER BY name")]

    def known(
        self, identifiers: Iterable[str], conn: Connection | None = None
    ) -> dict[str, tuple[str | None, str | None]]:
        """For each identifier already in the product store: (owning source or None
        for a local product, stored remote modification time)."""
        ids = list(identifiers)
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        with transaction(self.database_url, conn) as conn:
            rows = conn.query(
                f"""SELECT p.identifier, o.source, o.updated FROM {PRODUCTS} p
                    LEFT JOIN {OWNED} o ON o.identifier = p.identifier
                    WHERE p.identifier IN ({marks})""",
                ids,
            )
        return {row[0]: (row[1], row[2]) for row in rows}

    def own(self, conn: Connection, source: str, records: list[ProductRecord]) -> None:
        """Inside the page's transaction: these records belong to ``source`` (one
        batched statement for the page, not a round trip per record)."""
        conn.executemany(
            f"""INSERT INTO {OWNED} (identifier, source, updated) VALUES (?, ?, ?)
                ON CONFLICT (identifier) DO UPDATE SET
                    source = excluded.source, updated = excluded.updated""",
            [(record.identifier, source, record.updated.isoformat()) for record in records],
        )

    def owned(self, source: str) -> list[str]:
        with connect(self.database_url) as conn:
            rows = conn.query(
                f"SELECT identifier FROM {OWNED} WHERE source = ? ORDER BY identifier", (source,)
            )
        return [row[0] for row in rows]

    def owned_harvested(self, source: str, conn: Connection | None = None) -> list[str]:
        """The records of ``source`` that are still harvested copies (no local file):
        what a reconciliation may delete. A local product that took an identifier over
        is never among them."""
        with transaction(self.database_url, conn) as conn:
            rows = conn.query(
                f"""SELECT o.identifier FROM {OWNED} o
                    JOIN {PRODUCTS} p ON p.identifier = o.identifier
                    WHERE o.source = ? AND p.file_path = '' ORDER BY o.identifier""",
                (source,),
            )
        return [row[0] for row in rows]

    def disown(self, conn: Connection, source: str, identifiers: Iterable[str]) -> None:
        """Inside the deletion's transaction: ``source`` no longer holds these."""
        conn.executemany(
            f"DELETE FROM {OWNED} WHERE identifier = ? AND source = ?",
            [(identifier, source) for identifier in identifiers],
        )

    def forget(self, conn: Connection, source: str) -> None:
        conn.execute(f"DELETE FROM {OWNED} WHERE source = ?", (source,))
        conn.execute(f"DELETE FROM {SOURCES} WHERE name = ?", (source,))

    def mark_success(
        self,
        name: str,
        high_water: datetime | None,
        interval_s: int | None,
        listed_completely: bool = False,
        warning: str | None = None,
        conn: Connection | None = None,
    ) -> None:
        """A run that succeeded; ``warning`` (e.g. why remote deletions were not applied)
        is kept in ``last_error`` with no failure counted, so ``harvest --list`` shows it."""
        now = datetime.now(UTC)
        following = now + timedelta(seconds=interval_s) if interval_s else None
        with transaction(self.database_url, conn) as conn:
            conn.execute(
                f"""UPDATE {SOURCES} SET high_water = COALESCE(?, high_water),
                        last_success = ?, last_attempt = ?, last_error = ?, failures = 0,
                        next_attempt = ?, last_full = COALESCE(?, last_full) WHERE name = ?""",
                (
                    high_water.isoformat() if high_water else None,
                    now.isoformat(),
                    now.isoformat(),
                    warning,
                    following.isoformat() if following else None,
                    now.isoformat() if listed_completely else None,
                    name,
                ),
            )

    def mark_failure(
        self,
        name: str,
        error: str,
        settings: HarvestSettings,
        conn: Connection | None = None,
    ) -> datetime:
        """Record a failed run; returns when to try again (doubling after each failure)."""
        now = datetime.now(UTC)
        with transaction(self.database_url, conn) as conn:
            rows = conn.query(f"SELECT failures FROM {SOURCES} WHERE name = ?", (name,))
            failures = (int(rows[0][0]) if rows else 0) + 1
            delay = min(settings.retry_max_s, settings.retry_base_s * 2 ** min(failures - 1, 30))
            following = now + timedelta(seconds=delay)
            conn.execute(
                f"""UPDATE {SOURCES} SET last_attempt = ?, last_error = ?, failures = ?,
                        next_attempt = ? WHERE name = ?""",
                (now.isoformat(), error[:2000], failures, following.isoformat(), name),
            )
        return following
