"""Harvest an OpenSearch (-Geo/-Time/-EO) catalogue: read its description document,
fill the Atom URL template, page with ``startIndex``/``count``, parse entries with lxml
(no entities, no network).

Entries give the identifier (``dc:identifier`` or ``atom:id``), title, ``updated``,
acquisition time (``dc:date`` ``start/end``), footprint (``georss:polygon``,
``georss:box`` or a GML envelope/polygon in ``georss:where``), data links
(``rel="enclosure"``) and EO attributes (``eo:*`` elements or ``eo:NAME:VALUE``
categories).

Incremental: when the template offers ``{eo:modificationDate}`` (OpenSearch EO, OGC
13-026r9) it gets ``[since`` (on or after). ``{time:start}``/``{time:end}`` are the
acquisition time, not the modification time: a reprocessed old product would be
missed, so they are not used for that. Without the parameter every run pages through
everything and the runner skips unchanged records by their ``updated`` (such a run is
also a complete listing, which shows remote deletions).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from lxml import etree
from shapely.geometry import Polygon

from ogcsdl.catalogue.iso19139 import iso_datetime
from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.harvest.model import HarvestSource, Page, RejectedEntry, parse_time, remote_record
from ogcsdl.harvest.transport import SourceError, fetch, parse_xml

NS = {
    "os": "http://a9.com/-/spec/opensearch/1.1/",
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "georss": "http://www.georss.org/georss",
    "gml": "http://www.opengis.net/gml",
    "gml32": "http://www.opengis.net/gml/3.2",
    "eo": "http://a9.com/-/opensearch/extensions/eo/1.0/",
}
ATOM = "application/atom+xml"
_PARAMETER = re.compile(r"\{([^{}?]+)\??\}")
MODIFIED = "eo:modificationDate"
# Template parameter -> what we fill in (others stay empty and are dropped).
_EO_ELEMENTS = {
    "platform": "platform",
    "instrument": "instrument",
    "sensorType": "sensor_type",
    "productType": "product_type",
    "processingLevel": "processing_level",
    "cloudCover": "cloud_cover",
    "parentIdentifier": "collection",
    "orbitNumber": "orbit_number",
}


def atom_template(description_url: str, settings: Settings) -> tuple[str, int]:
    """The Atom URL template of an OpenSearch description, and its index offset."""
    root = parse_xml(fetch(description_url, settings), description_url)
    if root.tag != f"{{{NS['os']}}}OpenSearchDescription":
        raise SourceError(f"{description_url} is not an OpenSearch description document")
    for url in root.findall("os:Url", NS):
        if url.get("type", "").split(";")[0].strip() == ATOM and url.get("template"):
            return url.get("template", ""), int(url.get("indexOffset") or 1)
    raise SourceError(f"{description_url} offers no Atom ({ATOM}) URL template")


def fill_template(template: str, values: dict[str, str]) -> str:
    """Replace ``{name}``/``{name?}`` parameters (values URL-quoted); query parameters
    left empty (or only separators, as ``time=/``) are dropped. The rest of the
    template is kept byte for byte."""
    filled = _PARAMETER.sub(lambda match: quote(values.get(match.group(1), ""), safe=","), template)
    base, _, query = filled.partition("?")
    kept = [pair for pair in query.split("&") if pair.partition("=")[2].strip("/,")]
    return f"{base}?{'&'.join(kept)}" if kept else base


def offers(template: str, parameter: str) -> bool:
    return any(match.group(1) == parameter for match in _PARAMETER.finditer(template))


class OpenSearchHarvester:
    def pages(
        self, source: HarvestSource, since: datetime | None, settings: Settings
    ) -> Iterator[Page]:
        template, offset = atom_template(source.url, settings)
        values = {}
        if since is not None and offers(template, MODIFIED):
            values[MODIFIED] = f"[{iso_datetime(since)}"
        return self._pages(source, template, offset, values, settings)

    def listing(self, source: HarvestSource, settings: Settings) -> Iterator[Page]:
        """Every entry (Atom has no identifiers-only form): the runner also writes what
        an incremental run missed."""
        template, offset = atom_template(source.url, settings)
        return self._pages(source, template, offset, {}, settings)

    def _pages(
        self,
        source: HarvestSource,
        template: str,
        offset: int,
        values: dict[str, str],
        settings: Settings,
    ) -> Iterator[Page]:
        count = settings.harvest.page_size
        index = offset
        values = {**values, "count": str(count)}
        if source.bbox:
            values["geo:box"] = ",".join(str(value) for value in source.bbox)
        if source.collection:
            values["eo:parentIdentifier"] = source.collection
        while True:
            url = fill_template(template, {**values, "startIndex": str(index)})
            root = parse_xml(fetch(url, settings), url)
            if root.tag != f"{{{NS['atom']}}}feed":
                raise SourceError(f"{url} answered {etree.QName(root).localname}, not an Atom feed")
            total = root.findtext("os:totalResults", namespaces=NS)
            page = Page(
                [],
                matched=int(total) if total and total.isdigit() else None,
                since_applied=MODIFIED in values,
            )
            entries = root.findall("atom:entry", NS)
            for entry in entries:
                name = (
                    entry.findtext("dc:identifier", namespaces=NS)
                    or entry.findtext("atom:id", namespaces=NS)
                    or ""
                ).strip()
                page.take(
                    name,
                    partial(atom_record, source, entry),
                    collection=source.collection or None,
                )
            yield page
            index += len(entries)
            # A server may cap ``count`` below what was asked: only the total (when
            # given) or an empty page ends the paging.
            if not entries or (page.matched is not None and index - offset >= page.matched):
                return
            if page.matched is None and len(entries) < count:
                return


def _footprint(entry: etree._Element) -> Polygon:
    """The entry's footprint from GeoRSS (lat lon order), as a lon/lat polygon."""
    text = entry.findtext("georss:polygon", namespaces=NS)
    if text is None:
        text = entry.findtext("georss:where//gml:posList", namespaces=NS) or entry.findtext(
            "georss:where//gml32:posList", namespaces=NS
        )
    if text:
        numbers = [float(value) for value in text.split()]
        return Polygon(list(zip(numbers[1::2], numbers[0::2], strict=True)))
    box = entry.findtext("georss:box", namespaces=NS)
    if box is None:
        lower = entry.findtext("georss:where//gml:lowerCorner", namespaces=NS)
        upper = entry.findtext("georss:where//gml:upperCorner", namespaces=NS)
        box = f"{lower} {upper}" if lower and upper else None
    if box:
        south, west, north, east = (float(value) for value in box.split())
        return Polygon([(west, south), (east, south), (east, north), (west, north)])
    raise RejectedEntry("no footprint (georss)")


def _eo_attributes(entry: etree._Element) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for category in entry.findall("atom:category", NS):
        term = category.get("term", "")
        if term.startswith("eo:") and term.count(":") >= 2:
            _, name, value = term.split(":", 2)
            if name in _EO_ELEMENTS and value:
                found[_EO_ELEMENTS[name]] = value
    for name, key in _EO_ELEMENTS.items():
        value = entry.findtext(f"eo:{name}", namespaces=NS)
        if value:
            found[key] = value
    if "cloud_cover" in found:
        try:
            found["cloud_cover"] = float(found["cloud_cover"])
        except ValueError:
            del found["cloud_cover"]
    return found


def atom_record(source: HarvestSource, entry: etree._Element) -> ProductRecord:
    """A harvested record from one OpenSearch Atom entry."""
    identifier = entry.findtext("dc:identifier", namespaces=NS) or entry.findtext(
        "atom:id", namespaces=NS
    )
    when = entry.findtext("dc:date", namespaces=NS) or ""
    start_text, _, end_text = when.partition("/")
    try:
        footprint = _footprint(entry)
    except (ValueError, TypeError):
        raise RejectedEntry("unreadable footprint") from None
    if not footprint.is_valid or footprint.is_empty:
        raise RejectedEntry("invalid footprint")
    assets = [
        {
            "href": link.get("href"),
            "type": link.get("type"),
            "title": link.get("title") or "data",
            "roles": ["data"],
        }
        for link in entry.findall("atom:link", NS)
        if link.get("rel") == "enclosure"
    ]
    attributes = _eo_attributes(entry)
    orbit = attributes.pop("orbit_number", None)
    record = remote_record(
        source,
        identifier=(identifier or "").strip(),
        collection=attributes.pop("collection", None),
        title=(entry.findtext("atom:title", namespaces=NS) or "").strip(),
        start=parse_time(start_text, "dc:date"),
        end=parse_time(end_text or start_text, "dc:date"),
        bbox=footprint.bounds,
        footprint_wkt=footprint.wkt,
        updated=parse_time(entry.findtext("atom:updated", namespaces=NS), "updated"),
        assets=assets,
        abstract=entry.findtext("atom:summary", namespaces=NS),
        **attributes,
    )
    if orbit:
        record.extra["orbit_number"] = orbit
    return record
