"""pycsw's ``records`` table as a projection of the product store.

Every upsert/delete of a :class:`ProductRecord` writes (or removes) its pycsw row in the
SAME transaction, so CSW, OpenSearch and OAI-PMH can never disagree with the product
store. The row carries an ISO 19139 document (what ``outputSchema=gmd`` returns) and the
columns pycsw filters on, including the EO columns pycsw 2.6 lacks (``EXTRA_COLUMNS``,
made queryable by ``pycsw_mappings``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ogcsdl.catalogue.iso19139 import (
    COG_FORMAT,
    GMD_SCHEMA,
    MetadataContact,
    OnlineLink,
    iso_datetime,
    iso_text,
    now_iso,
    product_keywords,
)
from ogcsdl.catalogue.record import ProductRecord, product_href
from ogcsdl.config import Settings
from ogcsdl.db import Connection, connect
from ogcsdl.errors import redact_paths

if TYPE_CHECKING:
    from ogcsdl.catalogue.store import ProductStore

log = logging.getLogger(__name__)

RECORDS_TABLE = "records"
# Records written per statement when the whole projection is rebuilt.
RESYNC_BATCH = 1000

# Columns added to pycsw's base table (name -> "text" | "float"); pycsw 3 names.
EXTRA_COLUMNS: dict[str, str] = {
    "platform": "text",
    "instrument": "text",
    "sensortype": "text",
    "cloudcover": "float",
    "producttype": "text",
    "processinglevel": "text",
    "bands": "text",
}


# The columns :func:`records_row` fills (pycsw's triggers add anytext_tsvector and
# wkb_geometry); pycsw's other columns stay NULL in every row (see sparse_indexes).
PROJECTED_COLUMNS = (
    "identifier",
    "typename",
    "schema",
    "mdsource",
    "insert_date",
    "xml",
    "anytext",
    "language",
    "type",
    "title",
    "abstract",
    "keywords",
    "keywordstype",
    "parentidentifier",
    "time_begin",
    "time_end",
    "topicategory",
    "organization",
    "publisher",
    "date",
    "date_creation",
    "date_modified",
    "format",
    "source",
    "crs",
    "wkt_geometry",
    "lineage",
    "links",
    "platform",
    "instrument",
    "sensortype",
    "cloudcover",
    "producttype",
    "processinglevel",
    "bands",
)


def records_table_exists(database_url: str) -> bool:
    with connect(database_url) as conn:
        return _table_exists(conn)


def _table_exists(conn: Connection) -> bool:
    if conn.dialect == "sqlite":
        rows = conn.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (RECORDS_TABLE,)
        )
        return bool(rows)
    return conn.query("SELECT to_regclass(?)", (RECORDS_TABLE,))[0][0] is not None


def download_url(settings: Settings, record: ProductRecord) -> str:
    """Where the gateway serves the product's COG."""
    return product_href(settings, record.identifier)


def _opensearch_keywords(record: ProductRecord) -> list[str]:
    """pycsw 2.6 OpenSearch matches ``eo:productType``/``eo:processingLevel``/
    ``eo:orbitNumber`` as ``*eo:productType:VALUE*`` in the keywords column."""
    tagged = [
        ("productType", record.product_type),
        ("processingLevel", record.processing_level),
        ("orbitNumber", record.extra.get("orbit_number")),
        ("orbitDirection", record.extra.get("orbit_direction")),
    ]
    return [f"eo:{name}:{value}" for name, value in tagged if value not in (None, "")]


def public_record(record: ProductRecord) -> ProductRecord:
    """The record as the catalogue shows it (CSW, OAI-PMH, OpenSearch): its ingest
    source and lineage without the server's file-system paths."""
    lineage = record.lineage or f"Ingested from {record.source or record.identifier}"
    return replace(
        record,
        source=redact_paths(record.source) if record.source else None,
        lineage=redact_paths(lineage),
    )


def online_links(settings: Settings, record: ProductRecord) -> list[OnlineLink]:
    """How a client reaches the product: its COG and its WMS/WMTS layer and WCS coverage
    (so QGIS MetaSearch can add it as a layer); harvested records link to remote data."""
    if not record.is_local:
        return [
            OnlineLink(
                asset["href"], asset.get("title") or record.identifier, asset.get("type") or "data"
            )
            for asset in record.remote_assets
        ]
    ident = record.identifier
    return [
        OnlineLink(download_url(settings, record), f"{ident}.tif", "Cloud-optimized GeoTIFF"),
        OnlineLink(settings.url("maps/service"), ident, "WMS layer", "OGC:WMS"),
        OnlineLink(
            settings.url("maps/wmts/1.0.0/WMTSCapabilities.xml"), ident, "WMTS layer", "OGC:WMTS"
        ),
        OnlineLink(settings.url("wcs"), ident, "WCS 2.0.1 coverage", "OGC:WCS"),
    ]


def _links(links: list[OnlineLink]) -> str:
    """pycsw's ``links`` column: ``name,description,protocol,url`` per link, ``^``
    between links."""
    return "^".join(
        ",".join(
            _link_part(part) for part in (link.name, link.description, link.protocol, link.url)
        )
        for link in links
    )


def _link_part(text: str) -> str:
    return text.replace(",", " ").replace("^", " ")


def records_row(settings: Settings, record: ProductRecord) -> dict[str, Any]:
    """The pycsw ``records`` row of one product."""
    record = public_record(record)
    cat = settings.catalogue
    contact = MetadataContact(cat.organisation, cat.contact_name, cat.contact_email)
    links = online_links(settings, record)
    document = iso_text(record, links, contact)
    keywords = product_keywords(record)
    code = record.crs.partition(":")[2]
    return {
        "identifier": record.identifier,
        "typename": "gmd:MD_Metadata",
        "schema": GMD_SCHEMA,
        "mdsource": "local",
        "insert_date": now_iso(),
        "xml": document.xml,
        "anytext": document.anytext,
        "language": "eng",
        "type": "dataset",
        "title": record.title,
        "abstract": record.abstract or record.title,
        "keywords": ",".join(keywords + _opensearch_keywords(record)),
        "keywordstype": "theme",
        "parentidentifier": record.collection,
        "time_begin": iso_datetime(record.start),
        "time_end": iso_datetime(record.end),
        "topicategory": "imageryBaseMapsEarthCover",
        "organization": cat.organisation,
        "publisher": cat.organisation,
        "date": iso_datetime(record.start),
        "date_creation": iso_datetime(record.start),
        "date_modified": iso_datetime(record.updated),
        "format": COG_FORMAT,
        "source": record.source,
        "crs": f"urn:ogc:def:crs:EPSG::{code}"
        if record.crs.upper().startswith("EPSG:")
        else record.crs,
        "wkt_geometry": record.footprint_wkt,
        "lineage": record.lineage,
        "links": _links(links),
        "platform": record.platform,
        "instrument": record.instrument,
        "sensortype": record.sensor_type,
        "cloudcover": record.cloud_cover,
        "producttype": record.product_type,
        "processinglevel": record.processing_level,
        "bands": ",".join(record.band_names),
    }


class CatalogueProjection:
    """Upsert/delete hooks for :class:`ProductStore` that keep ``records`` in step.

    Until pycsw has created its table (``pycsw_setup.ensure_records_table``) the hooks
    write nothing; :meth:`resync` then rebuilds the projection from the store.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def upsert(self, conn: Connection, records: Sequence[ProductRecord]) -> None:
        """Write the rows of ``records`` (a batch: two statements, whatever its size).
        The rows are built first: in a pipelined batch (``ProductStore.upsert_many``) the
        server is still writing the product rows meanwhile."""
        latest = {record.identifier: record for record in records}  # the last one wins
        rows = [records_row(self.settings, record) for record in latest.values()]
        if not _table_exists(conn):
            log.debug("no pycsw records table yet; %d record(s) projected later", len(records))
            return
        names = PROJECTED_COLUMNS
        conn.executemany(
            f"DELETE FROM {RECORDS_TABLE} WHERE identifier = ?", [(ident,) for ident in latest]
        )
        conn.executemany(
            f"INSERT INTO {RECORDS_TABLE} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)})",
            [[row[name] for name in names] for row in rows],
        )

    def delete(self, conn: Connection, identifiers: Sequence[str]) -> None:
        """Remove the rows of ``identifiers`` (a batch: one statement)."""
        if identifiers and _table_exists(conn):
            conn.execute(
                f"DELETE FROM {RECORDS_TABLE} WHERE identifier IN"
                f" ({', '.join('?' * len(identifiers))})",
                list(identifiers),
            )

    def resync(self, store: ProductStore) -> int:
        """Rewrite the whole projection from the store (after the table was created,
        or after the record format changed). Returns the number of records."""
        products = store.list(include_remote=True)
        with connect(store.database_url) as conn:
            if not _table_exists(conn):
                return 0
            conn.execute(f"DELETE FROM {RECORDS_TABLE} WHERE mdsource = ?", ("local",))
            for start in range(0, len(products), RESYNC_BATCH):
                self.upsert(conn, products[start : start + RESYNC_BATCH])
        return len(products)
