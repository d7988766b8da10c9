"""The product store: the suite's own table of :class:`ProductRecord`s.

It is the source of truth for tiles, coverages and processes. The pycsw ``records``
table is a projection of it, written in the same transaction (see ``projection``).
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.db import Connection, KeptConnection, connect, dialect_of, transaction
from ogcsdl.errors import NotFound

TABLE = "ogcsdl_products"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    identifier TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    minx DOUBLE PRECISION NOT NULL,
    miny DOUBLE PRECISION NOT NULL,
    maxx DOUBLE PRECISION NOT NULL,
    maxy DOUBLE PRECISION NOT NULL,
    file_path TEXT NOT NULL,
    updated TEXT NOT NULL,
    record TEXT NOT NULL,
    cloud_cover DOUBLE PRECISION
)
"""

# The envelope as a PostgreSQL ``box`` (core PostgreSQL, no PostGIS needed): a GiST index
# on this expression answers bbox searches; queries must spell it exactly like this.
_PG_ENVELOPE = "box(point(minx, miny), point(maxx, maxy))"

# name -> indexed columns (both dialects); time ranges, cloud cover, newest-first order.
_INDEXES = {
    f"{TABLE}_collection_idx": "collection, start_time",
    f"{TABLE}_start_idx": "start_time, identifier",
    f"{TABLE}_end_idx": "end_time",
    f"{TABLE}_cloud_idx": "cloud_cover",
}

_COLUMNS = (
    "identifier, collection, start_time, end_time, minx, miny, maxx, maxy, file_path, "
    "updated, record, cloud_cover"
)
_UPSERT = f"""INSERT INTO {TABLE} ({_COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (identifier) DO UPDATE SET
        collection = excluded.collection, start_time = excluded.start_time,
        end_time = excluded.end_time, minx = excluded.minx,
        miny = excluded.miny, maxx = excluded.maxx, maxy = excluded.maxy,
        file_path = excluded.file_path, updated = excluded.updated,
        record = excluded.record, cloud_cover = excluded.cloud_cover"""

# Identifiers per DELETE statement (SQLite allows 32766 parameters; a source's records
# go in a few statements, not one per record).
DELETE_BATCH = 500

# What has a local COG (tiles, coverages and processes read only these): a partial index,
# so listing them does not scan the harvested records, which may be millions.
_LOCAL = "file_path <> ''"
_LOCAL_INDEX = f"{TABLE}_local_idx"

# A counter bumped in the same transaction as every write that may change the local
# products (see :meth:`ProductStore.change_stamp`): reading it is one primary-key lookup,
# where an aggregate over the table took seconds at a million (harvested) records.
GENERATION_TABLE = "ogcsdl_generation"
_LOCAL_GENERATION = "local-products"
_BUMP = f"UPDATE {GENERATION_TABLE} SET value = value + 1 WHERE name = ?"

# Comparison operators a cloud-cover bound may use (SQL text is fixed, values are params).
CLOUD_OPERATORS = ("<", "<=", ">", ">=", "=")


@dataclass(frozen=True)
class ProductQuery:
    """Search criteria; times are timezone-aware UTC, bbox is WGS84."""

    collections: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 10
    offset: int = 0
    # ANDed bounds on the cloud cover (percent), e.g. (("<=", 20.0),); a record without
    # a cloud cover matches none.
    cloud_cover: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class CollectionExtent:
    count: int
    bbox: tuple[float, float, float, float]
    start: datetime
    end: datetime


# Hooks run inside the upsert/delete transaction, e.g. to write the pycsw projection;
# each gets the whole batch (so it can write it with one statement).
UpsertHook = Callable[[Connection, Sequence[ProductRecord]], None]
DeleteHook = Callable[[Connection, Sequence[str]], None]


class ProductStore:
    def __init__(
        self,
        database_url: str,
        on_upsert: list[UpsertHook] | None = None,
        on_delete: list[DeleteHook] | None = None,
    ) -> None:
        self.database_url = database_url
        self.on_upsert = on_upsert or []
        self.on_delete = on_delete or []
        self._kept = KeptConnection(database_url)  # change_stamp: polled every second

    def ensure_schema(self) -> None:
        """Create the table and its indexes; migrate older tables (the ``cloud_cover``
        column, back-filled from the stored records)."""
        with connect(self.database_url) as conn:
            conn.execute(_SCHEMA)
            if "cloud_cover" not in conn.columns(TABLE):
                conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN cloud_cover DOUBLE PRECISION")
                _backfill_cloud_cover(conn)
            for name, columns in _INDEXES.items():
                conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} ({columns})")
            if conn.dialect == "postgresql":
                conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {TABLE}_envelope_idx ON {TABLE}"
                    f" USING gist ({_PG_ENVELOPE})"
                )
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {_LOCAL_INDEX} ON {TABLE}"
                f" (collection, start_time, identifier) WHERE {_LOCAL}"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {GENERATION_TABLE}"
                " (name TEXT PRIMARY KEY, value BIGINT NOT NULL)"
            )
            conn.execute(
                f"INSERT INTO {GENERATION_TABLE} (name, value) VALUES (?, 0)"
                " ON CONFLICT (name) DO NOTHING",
                (_LOCAL_GENERATION,),
            )

    def upsert(self, record: ProductRecord) -> None:
        """Insert or replace by identifier: re-ingesting a product never duplicates it."""
        self.upsert_many([record])

    def upsert_many(
        self,
        records: Sequence[ProductRecord],
        also: Callable[[Connection], None] | None = None,
        *,
        conn: Connection | None = None,
    ) -> None:
        """Upsert every record in ONE transaction (all are stored, or none), running ``also``
        (e.g. harvest bookkeeping) inside the same transaction. The rows go as one
        batched statement (a harvest page or a bulk load is one round trip, not one per
        record); a record repeated in ``records`` ends as its last occurrence. ``conn``
        (a :func:`~ogcsdl.db.session`'s) runs the transaction on that connection: a
        harvest writes all its pages through one. On PostgreSQL the statements are
        pipelined: the server writes the product rows while the hooks prepare theirs."""
        with transaction(self.database_url, conn) as conn, conn.pipelined():
            conn.executemany(_UPSERT, [_row(record) for record in records])
            if any(record.file_path for record in records):
                conn.execute(_BUMP, (_LOCAL_GENERATION,))
            if records:
                for hook in self.on_upsert:
                    hook(conn, records)
            if also is not None:
                also(conn)

    def get(self, identifier: str) -> ProductRecord:
        with connect(self.database_url) as conn:
            rows = conn.query(f"SELECT record FROM {TABLE} WHERE identifier = ?", (identifier,))
        if not rows:
            raise NotFound(f"no product with identifier {identifier!r}", locator="identifier")
        return ProductRecord.from_json(rows[0][0])

    def list(
        self, collection: str | None = None, *, include_remote: bool = False
    ) -> list[ProductRecord]:
        """Products with a local COG (what tiles, coverages and processes read), by
        collection and time. ``include_remote`` adds harvested records, which only
        link to their remote data (``file_path`` empty)."""
        sql = f"SELECT record FROM {TABLE}"
        where: builtins.list[str] = [] if include_remote else [_LOCAL]
        params: tuple[str, ...] = ()
        if collection is not None:
            where.append("collection = ?")
            params = (collection,)
        if where:
            sql += f" WHERE {' AND '.join(where)}"
        sql += " ORDER BY collection, start_time, identifier"
        with connect(self.database_url) as conn:
            rows = conn.query(sql, params)
        return [ProductRecord.from_json(row[0]) for row in rows]

    def search(
        self, query: ProductQuery, *, count: bool = True
    ) -> tuple[builtins.list[ProductRecord], int | None]:
        """Records matching every given criterion, newest first, and the total matched
        (None with ``count=False``: a scan over batches needs no total each time).

        The bbox test runs in SQL on the stored envelopes (a GiST index on PostgreSQL);
        callers refine with the footprint where exactness matters."""
        clause, params = _where(query, self.database_url)
        with connect(self.database_url) as conn:
            matched = (
                int(conn.query(f"SELECT COUNT(*) FROM {TABLE}{clause}", params)[0][0])
                if count
                else None
            )
            rows = conn.query(
                f"SELECT record FROM {TABLE}{clause}"
                " ORDER BY start_time DESC, identifier LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            )
        return [ProductRecord.from_json(row[0]) for row in rows], matched

    def collection_extents(self) -> dict[str, CollectionExtent]:
        """Per collection: product count, WGS84 envelope and time span (one SQL query)."""
        with connect(self.database_url) as conn:
            rows = conn.query(
                f"""SELECT collection, COUNT(*), MIN(minx), MIN(miny), MAX(maxx), MAX(maxy),
                           MIN(start_time), MAX(end_time)
                    FROM {TABLE} GROUP BY collection ORDER BY collection"""
            )
        return {
            row[0]: CollectionExtent(
                count=int(row[1]),
                bbox=(float(row[2]), float(row[3]), float(row[4]), float(row[5])),
                start=datetime.fromisoformat(row[6]),
                end=datetime.fromisoformat(row[7]),
            )
            for row in rows
        }

    def change_stamp(self) -> str:
        """A short value that changes whenever a product with a local COG (what
        :meth:`list` returns) may have been added, changed or removed: lets caches of
        that list skip re-reading it. One primary-key lookup, whatever the size of the
        catalogue; harvested records (no local file) do not change it, deletions always
        do (a deletion does not look at what it deleted)."""
        rows = self._kept.query(
            f"SELECT value FROM {GENERATION_TABLE} WHERE name = ?", (_LOCAL_GENERATION,)
        )
        # a database whose schema was never created here: a stamp that never repeats
        return str(rows[0][0]) if rows else f"unknown-{time.monotonic_ns()}"

    def collections(self) -> builtins.list[str]:
        with connect(self.database_url) as conn:
            rows = conn.query(f"SELECT DISTINCT collection FROM {TABLE} ORDER BY collection")
        return [row[0] for row in rows]

    def delete_many(
        self,
        identifiers: builtins.list[str],
        also: Callable[[Connection], None] | None = None,
        *,
        conn: Connection | None = None,
    ) -> int:
        """Delete several records in ONE transaction (unknown ones are ignored), with
        ``also`` in the same transaction (on ``conn`` when given). Returns how many were
        deleted."""
        deleted = 0
        with transaction(self.database_url, conn) as conn:
            for start in range(0, len(identifiers), DELETE_BATCH):
                batch = identifiers[start : start + DELETE_BATCH]
                cursor = conn.execute(
                    f"DELETE FROM {TABLE} WHERE identifier IN ({', '.join('?' * len(batch))})",
                    batch,
                )
                deleted += max(cursor.rowcount, 0)
                for hook in self.on_delete:
                    hook(conn, batch)
            if deleted:
                conn.execute(_BUMP, (_LOCAL_GENERATION,))
            if also is not None:
                also(conn)
        return deleted

    def delete(self, identifier: str) -> None:
        with connect(self.database_url) as conn:
            cursor = conn.execute(f"DELETE FROM {TABLE} WHERE identifier = ?", (identifier,))
            if cursor.rowcount == 0:
                raise NotFound(f"no product with identifier {identifier!r}", locator="identifier")
            conn.execute(_BUMP, (_LOCAL_GENERATION,))
            for hook in self.on_delete:
                hook(conn, [identifier])


def _row(record: ProductRecord) -> tuple[Any, ...]:
    return (
        record.identifier,
        record.collection,
        record.start.isoformat(),
        record.end.isoformat(),
        *record.bbox,
        record.file_path,
        record.updated.isoformat(),
        record.to_json(),
        record.cloud_cover,
    )


def _where(query: ProductQuery, database_url: str) -> tuple[str, builtins.list[Any]]:
    """The WHERE clause (with its parameters) of a :class:`ProductQuery`."""
    where: builtins.list[str] = []
    params: builtins.list[Any] = []
    if query.collections:
        where.append(f"collection IN ({', '.join('?' * len(query.collections))})")
        params.extend(query.collections)
    if query.ids:
        where.append(f"identifier IN ({', '.join('?' * len(query.ids))})")
        params.extend(query.ids)
    if query.bbox is not None:
        minx, miny, maxx, maxy = (float(value) for value in query.bbox)
        if dialect_of(database_url) == "postgresql":  # the same test, through the GiST index
            where.append(f"{_PG_ENVELOPE} && box(point(?, ?), point(?, ?))")
            params.extend([minx, miny, maxx, maxy])
        where.append("maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?")
        params.extend([minx, maxx, miny, maxy])
    if query.start is not None:
        where.append("end_time >= ?")
        params.append(query.start.isoformat())
    if query.end is not None:
        where.append("start_time <= ?")
        params.append(query.end.isoformat())
    for operator, value in query.cloud_cover:
        if operator not in CLOUD_OPERATORS:
            raise ValueError(f"not a cloud-cover comparison: {operator!r}")
        where.append(f"cloud_cover {operator} ?")
        params.append(float(value))
    return (f" WHERE {' AND '.join(where)}" if where else ""), params


def _backfill_cloud_cover(conn: Connection) -> None:
    """Fill the new column from the stored JSON records (a table made before it)."""
    if conn.dialect == "sqlite":
        conn.execute(
            f"UPDATE {TABLE} SET cloud_cover = json_extract(record, '$.cloud_cover')"
            " WHERE json_type(record, '$.cloud_cover') IN ('integer', 'real')"
        )
    else:
        conn.execute(
            f"UPDATE {TABLE} SET cloud_cover = (record::jsonb ->> 'cloud_cover')::float8"
            " WHERE jsonb_typeof(record::jsonb -> 'cloud_cover') = 'number'"
        )
