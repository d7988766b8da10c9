"""pycsw's ``records`` table indexes every column, also the ~30 the projection never
writes (service metadata, constraints, specifications: NULL in every row). A B-tree
stores NULL keys too, so every record written paid an entry in each of them: measured
on PostGIS at 426k records, a third of the server CPU of writing a ``records`` row
(1.10 -> 0.74 ms) and ~28 of the ~74 WAL records per row.

At start-up (:func:`ogcsdl.schema.create_schema`, and again right after pycsw created
its table) each such index is rebuilt as a partial index ``WHERE column IS NOT NULL``
under its own name: empty while the column is, nothing to maintain on a write, and
still used by the planner for any comparison pycsw generates on the column (``=``,
``LIKE``, ranges all imply ``IS NOT NULL``). A column the projection starts writing
one day stays correctly indexed (its rows enter the index); only ordering by such a
column cannot use the partial index, and ordering by a column that is NULL everywhere
orders nothing.

The index on ``links`` goes altogether: no pycsw queryable (CSW 2/3, ISO AP, OpenSearch)
maps to that column, it is only read for output, yet it was the largest B-tree of the
table (148 MB at 426k records: ~200-character keys) and another random page per write.
So do those on the free-text columns (:data:`UNQUERIED_COLUMNS`): a B-tree cannot serve
their searches and cannot hold their longer values at all.

Idempotent on SQLite and PostgreSQL: an index already partial (or gone) is left alone,
so a later start-up costs one catalogue query.
"""

from __future__ import annotations

import logging
import re

from ogcsdl.catalogue.projection import PROJECTED_COLUMNS, RECORDS_TABLE
from ogcsdl.db import Connection, connect

log = logging.getLogger(__name__)

# Filled by pycsw's triggers from projected columns (anytext, wkt_geometry).
TRIGGER_COLUMNS = ("anytext_tsvector", "wkb_geometry")
# Written, but their B-trees go: ``links`` is no pycsw queryable; the free text (an
# abstract, a keyword list, a lineage statement, a hyperspectral band list) is searched
# with ``LIKE '%...%'`` or through ``anytext``, which no B-tree serves, and a B-tree entry
# holds at most ~2.7 kB (PostgreSQL): a longer, poorly compressible value (a national
# catalogue's abstract) made the whole write of its page fail.
UNQUERIED_COLUMNS = ("links", "abstract", "keywords", "lineage", "bands")
_LOCK = 0x6F677370  # pg_advisory_xact_lock key: suites starting together
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def never_written(columns: set[str]) -> set[str]:
    """The columns of pycsw's table that no write of ours ever fills."""
    return columns - set(PROJECTED_COLUMNS) - set(TRIGGER_COLUMNS)


def ensure_sparse_indexes(database_url: str) -> list[str]:
    """Turn the single-column indexes of never-written ``records`` columns into partial
    ``IS NOT NULL`` ones and drop those of unqueried columns (no-op without a records
    table). Returns the indexes rebuilt or dropped."""
    with connect(database_url) as conn:
        if conn.dialect == "postgresql":
            conn.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK,))
        full = _full_single_column_indexes(conn)
        if not full:
            return []
        empty = never_written(conn.columns(RECORDS_TABLE))
        rebuilt: list[str] = []
        for name, column in sorted(full.items()):
            if column not in empty | set(UNQUERIED_COLUMNS):
                continue
            if not (_NAME.match(name) and _NAME.match(column)):
                continue
            conn.execute(f"DROP INDEX {name}")
            if column in empty:
                conn.execute(
                    f"CREATE INDEX {name} ON {RECORDS_TABLE} ({column}) WHERE {column} IS NOT NULL"
                )
            rebuilt.append(name)
    if rebuilt:
        log.info("%s: %d index(es) made partial or dropped", RECORDS_TABLE, len(rebuilt))
    return rebuilt


def _full_single_column_indexes(conn: Connection) -> dict[str, str]:
    """Index name -> column of the plain (not unique, not partial, not an expression)
    one-column indexes of the records table; empty when there is no such table."""
    if conn.dialect == "sqlite":
        indexes: dict[str, str] = {}
        for row in conn.query(f"PRAGMA index_list({RECORDS_TABLE})"):
            name, unique, origin, partial = str(row[1]), row[2], row[3], row[4]
            if unique or partial or origin != "c":
                continue
            info = conn.query(f"PRAGMA index_info({_quoted(name)})")
            if len(info) == 1 and info[0][2] is not None:
                indexes[name] = str(info[0][2])
        return indexes
    rows = conn.query(
        """SELECT i.relname, a.attname FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
           WHERE x.indrelid = to_regclass(?) AND x.indnatts = 1 AND NOT x.indisunique
             AND x.indpred IS NULL AND x.indexprs IS NULL
             AND i.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')""",
        (RECORDS_TABLE,),
    )
    return {str(row[0]): str(row[1]) for row in rows}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
