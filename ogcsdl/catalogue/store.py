"""The product store: the suite's own table of :class:`ProductRecord`s.

It is the source of truth for tiles, coverages and processes. The pycsw ``records``
table is a projection of it, written in the same transaction (see ``projection``).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.db import Connection, connect
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
    record TEXT NOT NULL
)
"""


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


@dataclass(frozen=True)
class CollectionExtent:
    count: int
    bbox: tuple[float, float, float, float]
    start: datetime
    end: datetime


# Hooks run inside the upsert/delete transaction, e.g. to write the pycsw projection.
UpsertHook = Callable[[Connection, ProductRecord], None]
DeleteHook = Callable[[Connection, str], None]


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

    def ensure_schema(self) -> None:
        with connect(self.database_url) as conn:
            conn.execute(_SCHEMA)
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {TABLE}_collection_idx ON {TABLE} (collection, start_time)"
            )

    def upsert(self, record: ProductRecord) -> None:
        """Insert or replace by identifier: re-ingesting a product never duplicates it."""
        self.upsert_many([record])

    def upsert_many(
        self,
        records: Sequence[ProductRecord],
        also: Callable[[Connection], None] | None = None,
    ) -> None:
        """Upsert every record in ONE transaction (all are stored, or none), running ``also``
        (e.g. harvest bookkeeping) inside the same transaction."""
        with connect(self.database_url) as conn:
            for record in records:
                self._upsert(conn, record)
            if also is not None:
                also(conn)

    def _upsert(self, conn: Connection, record: ProductRecord) -> None:
        conn.execute(
            f"""INSERT INTO {TABLE} (identifier, collection, start_time, end_time,
                    minx, miny, maxx, maxy, file_path, updated, record)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (identifier) DO UPDATE SET
                    collection = excluded.collection, start_time = excluded.start_time,
                    end_time = excluded.end_time, minx = excluded.minx,
                    miny = excluded.miny, maxx = excluded.maxx, maxy = excluded.maxy,
                    file_path = excluded.file_path, updated = excluded.updated,
                    record = excluded.record""",
            (
                record.identifier,
                record.collection,
                record.start.isoformat(),
                record.end.isoformat(),
                *record.bbox,
                record.file_path,
                record.updated.isoformat(),
                record.to_json(),
            ),
        )
        for hook in self.on_upsert:
            hook(conn, record)

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
        where: builtins.list[str] = [] if include_remote else ["file_path <> ''"]
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

    def search(self, query: ProductQuery) -> tuple[builtins.list[ProductRecord], int]:
        """Records matching every given criterion, newest first, and the total matched.

        The bbox test runs in SQL on the stored envelopes; callers refine with the
        footprint where exactness matters."""
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if query.collections:
            where.append(f"collection IN ({', '.join('?' * len(query.collections))})")
            params.extend(query.collections)
        if query.ids:
            where.append(f"identifier IN ({', '.join('?' * len(query.ids))})")
            params.extend(query.ids)
        if query.bbox is not None:
            minx, miny, maxx, maxy = query.bbox
            where.append("maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?")
            params.extend([minx, maxx, miny, maxy])
        if query.start is not None:
            where.append("end_time >= ?")
            params.append(query.start.isoformat())
        if query.end is not None:
            where.append("start_time <= ?")
            params.append(query.end.isoformat())
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with connect(self.database_url) as conn:
            matched = int(conn.query(f"SELECT COUNT(*) FROM {TABLE}{clause}", params)[0][0])
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
        """A short value that changes whenever any product is added, changed or removed:
        lets caches of the product list skip re-reading it (one aggregate query, no
        record parsing)."""
        with connect(self.database_url) as conn:
            count, updated, size = conn.query(
                f"SELECT COUNT(*), MAX(updated), SUM(LENGTH(record)) FROM {TABLE}"
            )[0]
        return f"{count}:{updated}:{size}"

    def collections(self) -> builtins.list[str]:
        with connect(self.database_url) as conn:
            rows = conn.query(f"SELECT DISTINCT collection FROM {TABLE} ORDER BY collection")
        return [row[0] for row in rows]

    def delete_many(
        self,
        identifiers: builtins.list[str],
        also: Callable[[Connection], None] | None = None,
    ) -> int:
        """Delete several records in ONE transaction (unknown ones are ignored), with
        ``also`` in the same transaction. Returns how many were deleted."""
        deleted = 0
        with connect(self.database_url) as conn:
            for identifier in identifiers:
                cursor = conn.execute(f"DELETE FROM {TABLE} WHERE identifier = ?", (identifier,))
                deleted += max(cursor.rowcount, 0)
                for hook in self.on_delete:
                    hook(conn, identifier)
            if also is not None:
                also(conn)
        return deleted

    def delete(self, identifier: str) -> None:
        with connect(self.database_url) as conn:
            cursor = conn.execute(f"DELETE FROM {TABLE} WHERE identifier = ?", (identifier,))
            if cursor.rowcount == 0:
                raise NotFound(f"no product with identifier {identifier!r}", locator="identifier")
            for hook in self.on_delete:
                hook(conn, identifier)
