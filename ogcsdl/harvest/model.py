"""What every protocol module shares: the source description, a page of parsed
records, and the shape of a harvested :class:`ProductRecord`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from shapely.geometry import box

from ogcsdl.catalogue.record import NOT_XML, Band, ProductRecord, xml_text
from ogcsdl.config import Settings

PROTOCOLS = ("csw", "opensearch", "stac", "iso")  # iso: one ISO 19139 document


@dataclass(frozen=True)
class HarvestSource:
    name: str  # our name for the source; harvested records carry "harvest:<name>"
    url: str
    protocol: str  # one of PROTOCOLS
    collection: str | None = None
    bbox: tuple[float, float, float, float] | None = None

    @property
    def tag(self) -> str:
        """``ProductRecord.source`` of this source's records (CSW ``dc:source``)."""
        return f"harvest:{self.name}"


def default_name(url: str, protocol: str) -> str:
    """Our name for a source given only by URL: ``protocol-host[-port]``."""
    parts = urlsplit(url)
    host = (parts.hostname or "source").replace(":", "-")
    return f"{protocol}-{host}-{parts.port}" if parts.port else f"{protocol}-{host}"


@dataclass
class Page:
    """One answer of the remote catalogue, fully parsed before anything is written."""

    records: list[ProductRecord]
    matched: int | None = None  # how many the remote says match in total
    rejected: list[str] = field(default_factory=list)  # why entries were skipped
    # Identifiers of every entry the page listed, rejected ones included: what a
    # reconciliation compares with the records we hold (a rejected entry still exists).
    seen: list[str] = field(default_factory=list)
    # The remote filtered by modification time (``since``): the pages are then not a
    # listing of everything the source holds and cannot show deletions.
    since_applied: bool = False

    def take(
        self,
        name: str | None,
        build: Callable[[], ProductRecord],
        *,
        label: str | None = None,
        collection: str | None = None,
    ) -> None:
        """Note one entry of the answer: its identifier as seen, then its record, or why
        it was rejected (under ``label``, default the identifier). With ``collection``
        a record of another collection is seen but not kept."""
        if name:
            self.seen.append(name)
        try:
            record = build()
        except RejectedEntry as why:
            self.rejected.append(f"{label or name or '?'}: {why}")
            return
        if collection is None or record.collection == collection:
            self.records.append(record)


class Harvester(Protocol):
    def pages(
        self, source: HarvestSource, since: datetime | None, settings: Settings
    ) -> Iterator[Page]:
        """Pages of records new or changed since ``since`` (all when None); a page
        that cannot be fetched or parsed raises :class:`~.transport.SourceError`."""
        ...

    def listing(self, source: HarvestSource, settings: Settings) -> Iterator[Page]:
        """Pages listing every entry of the source (``seen``; ``records`` may be empty
        when the protocol can list identifiers alone), for a reconciliation."""
        ...


class RejectedEntry(ValueError):
    """One remote entry lacks what a product record needs; it is skipped, not stored."""


def parse_time(text: str | None, what: str) -> datetime:
    if not text:
        raise RejectedEntry(f"no {what}")
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RejectedEntry(f"{what} {text!r} is not ISO 8601") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def remote_record(
    source: HarvestSource,
    *,
    identifier: str,
    title: str,
    collection: str | None,
    start: datetime,
    end: datetime,
    bbox: tuple[float, float, float, float],
    updated: datetime,
    footprint_wkt: str | None = None,
    assets: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> ProductRecord:
    """A harvested record: no local file, its remote data links kept as assets; text
    cleaned of what XML cannot carry (an identifier holding such text is rejected: it
    would no longer name the remote's entry)."""
    if NOT_XML.search(identifier):
        raise RejectedEntry("the identifier holds characters XML cannot carry")
    title, collection, assets = xml_text(title), xml_text(collection), xml_text(assets)
    fields = {name: xml_text(value) for name, value in fields.items()}
    minx, miny, maxx, maxy = bbox
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise RejectedEntry(f"bbox {bbox} is not a WGS84 box")
    if not identifier.strip():
        raise RejectedEntry("no identifier")
    bands = fields.pop("bands", None) or []
    extra = {
        "harvest_source": source.name,
        "remote_assets": [asset for asset in assets or [] if asset.get("href")],
    }
    return ProductRecord(
        identifier=identifier,
        title=title or identifier,
        collection=collection or source.collection or source.name,
        start=start,
        end=max(start, end),
        footprint_wkt=footprint_wkt or box(*bbox).wkt,
        bbox=bbox,
        crs=fields.pop("crs", None) or "EPSG:4326",
        resolution=fields.pop("resolution", None) or (0.0, 0.0),
        width=int(fields.pop("width", None) or 0),
        height=int(fields.pop("height", None) or 0),
        bands=[band if isinstance(band, Band) else Band(str(band)) for band in bands],
        file_path="",
        file_size=0,
        source=source.tag,
        extra=extra,
        updated=updated,
        **fields,
    )
