"""Read a harvested ISO 19139 ``gmd:MD_Metadata`` (or ``gmi:MI_Metadata``) element into a
:class:`ProductRecord` with lxml paths, for CSW pages and single ISO documents.

It reads the elements OWSLib's ``owslib.iso.MD_Metadata`` reads for these fields, in the
same places and with the same fallbacks (``gmx:Anchor`` where OWSLib takes one, GML 3.2
time periods, the first geographic element holding a box, ``srv:extent``), but only
those: OWSLib parses every part of every record (contacts, constraints, data quality,
...), ~3 ms a record, which was most of a CSW harvest's time. The element comes from the
safe parser of the page (no entities, no network); this module parses nothing itself.
"""

from __future__ import annotations

from functools import cache

from lxml import etree

from ogcsdl.catalogue.iso19139 import EO_THESAURI
from ogcsdl.catalogue.record import Band, ProductRecord
from ogcsdl.harvest.model import HarvestSource, RejectedEntry, parse_time, remote_record

NS = {
    "gmd": "http://www.isotc211.org/2005/gmd",
    "gco": "http://www.isotc211.org/2005/gco",
    "gmx": "http://www.isotc211.org/2005/gmx",
    "gmi": "http://www.isotc211.org/2005/gmi",
    "gml": "http://www.opengis.net/gml",
    "gml32": "http://www.opengis.net/gml/3.2",
    "srv": "http://www.isotc211.org/2005/srv",
}
RECORD_TAGS = (f"{{{NS['gmd']}}}MD_Metadata", f"{{{NS['gmi']}}}MI_Metadata")
_IDENTIFICATIONS = {"MD_DataIdentification", "MD_ServiceIdentification", "SV_ServiceIdentification"}
_BAND_NAMES = etree.XPath(
    "gmd:contentInfo/gmd:MD_ImageDescription/gmd:dimension/gmd:MD_Band"
    "/gmd:sequenceIdentifier/gco:MemberName/gco:aName/gco:CharacterString/text()",
    namespaces=NS,
)
_PERIOD = "gmd:EX_Extent/gmd:temporalElement/gmd:EX_TemporalExtent/gmd:extent"


@cache
def _xpath(path: str) -> etree.XPath:
    """A compiled location path: libxml2 evaluates it several times faster than lxml's
    ``find`` (a record takes ~40 look-ups)."""
    return etree.XPath(path, namespaces=NS)


def _find(element: etree._Element, path: str) -> etree._Element | None:
    found = _xpath(path)(element)
    return found[0] if isinstance(found, list) and found else None


def _findall(element: etree._Element, path: str) -> list[etree._Element]:
    found = _xpath(path)(element)
    return (
        [item for item in found if isinstance(item, etree._Element)]
        if isinstance(found, list)
        else []
    )


def records_in(root: etree._Element) -> list[etree._Element]:
    """The ISO records of a CSW answer: every ``gmd:MD_Metadata``, or else every
    ``gmi:MI_Metadata`` (as OWSLib finds them)."""
    return _findall(root, ".//gmd:MD_Metadata") or _findall(root, ".//gmi:MI_Metadata")


def _value(element: etree._Element | None) -> str | None:
    """The stripped text of an element; None without element or text (OWSLib's
    ``testXMLValue``)."""
    if element is None or not element.text:
        return None
    return str(element.text).strip()


def _text(element: etree._Element, path: str) -> str | None:
    return _value(_find(element, path))


def _text_or_anchor(element: etree._Element, path: str) -> str | None:
    """``path/gco:CharacterString``, or when that is empty ``path/gmx:Anchor``."""
    value = _text(element, f"{path}/gco:CharacterString")
    if value in (None, ""):
        anchor = _find(element, f"{path}/gmx:Anchor")
        if anchor is not None:
            value = _value(anchor)
    return value


def identifier_of(metadata: etree._Element) -> str | None:
    return _text(metadata, "gmd:fileIdentifier/gco:CharacterString")


def _identification(metadata: etree._Element) -> etree._Element | None:
    for info in _findall(metadata, "gmd:identificationInfo"):
        child = next(iter(info), None)
        if child is not None and etree.QName(child).localname in _IDENTIFICATIONS:
            return child
    return None


def _extents(ident: etree._Element) -> list[etree._Element]:
    return [*_findall(ident, "gmd:extent"), *_findall(ident, "srv:extent")]


def _bbox(ident: etree._Element) -> tuple[float, float, float, float]:
    """The box of the first geographic element that has a box or a polygon."""
    for extent in _extents(ident):
        for element in _findall(extent, "gmd:EX_Extent/gmd:geographicElement"):
            box = _find(element, "gmd:EX_GeographicBoundingBox")
            if box is None and _find(element, "gmd:EX_BoundingPolygon") is None:
                continue
            if box is None:
                raise RejectedEntry("no geographic bounding box")
            corners = [
                _float(_text(box, f"gmd:{name}/gco:Decimal"))
                for name in (
                    "westBoundLongitude",
                    "southBoundLatitude",
                    "eastBoundLongitude",
                    "northBoundLatitude",
                )
            ]
            if any(value is None for value in corners):
                raise RejectedEntry("no geographic bounding box")
            minx, miny, maxx, maxy = (float(value or 0) for value in corners)
            return minx, miny, maxx, maxy
    raise RejectedEntry("no geographic bounding box")


def _time(ident: etree._Element, position: str) -> str | None:
    """The first extent's ``gml:TimePeriod/gml:<position>`` (GML 3.1, else 3.2)."""
    for extent in _extents(ident):
        found = _find(extent, f"{_PERIOD}/gml:TimePeriod/gml:{position}")
        if found is None:
            found = _find(extent, f"{_PERIOD}/gml32:TimePeriod/gml32:{position}")
        if found is not None:
            return _value(found)
    return None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _keywords(ident: etree._Element) -> tuple[dict[str, str], list[str]]:
    """EO attributes (one-keyword blocks whose thesaurus names one) and free keywords."""
    attributes: dict[str, str] = {}
    keywords: list[str] = []
    for block in _findall(ident, "gmd:descriptiveKeywords/gmd:MD_Keywords"):
        words = _findall(block, "gmd:keyword/gco:CharacterString") or _findall(
            block, "gmd:keyword/gmx:Anchor"
        )
        names = [name for word in words if (name := _value(word))]
        title = None
        citation = _find(block, "gmd:thesaurusName/gmd:CI_Citation")
        if citation is not None:
            title = _text(citation, "gmd:title/gco:CharacterString")
            if title is None:
                title = _text(citation, "gmd:title/gmx:Anchor")
        if title in EO_THESAURI and names:
            attributes[str(title)] = names[0]
        else:
            keywords.extend(names)
    return attributes, keywords


def _assets(metadata: etree._Element) -> list[dict[str, object]]:
    distribution = _find(metadata, "gmd:distributionInfo/gmd:MD_Distribution")
    if distribution is None:
        return []
    assets: list[dict[str, object]] = []
    path = "gmd:transferOptions/gmd:MD_DigitalTransferOptions/gmd:onLine/gmd:CI_OnlineResource"
    for online in _findall(distribution, path):
        url = _text(online, "gmd:linkage/gmd:URL")
        if url:
            assets.append(
                {
                    "href": url,
                    "type": _text(online, "gmd:description/gco:CharacterString"),
                    "title": _text_or_anchor(online, "gmd:name"),
                    "roles": ["data"],
                }
            )
    return assets


def iso_record(source: HarvestSource, metadata: etree._Element) -> ProductRecord:
    """A harvested record from one ISO 19139 ``MD_Metadata`` element."""
    ident = _identification(metadata)
    if ident is None:
        raise RejectedEntry("not an ISO record with identification")
    bbox = _bbox(ident)
    begin = _time(ident, "beginPosition")
    start = parse_time(begin, "begin time")
    end = parse_time(_time(ident, "endPosition") or begin, "end time")
    attributes, keywords = _keywords(ident)
    image = _find(metadata, "gmd:contentInfo/gmd:MD_ImageDescription")
    system = _find(metadata, "gmd:referenceSystemInfo/gmd:MD_ReferenceSystem")
    code = (
        _text_or_anchor(system, "gmd:referenceSystemIdentifier/gmd:RS_Identifier/gmd:code")
        if system is not None
        else None
    )
    abstract = _text(ident, "gmd:abstract/gco:CharacterString")
    anchored = _find(ident, "gmd:abstract/gmx:Anchor")
    if anchored is not None:
        abstract = _value(anchored)
    stamp = _text(metadata, "gmd:dateStamp/gco:Date") or _text(
        metadata, "gmd:dateStamp/gco:DateTime"
    )
    return remote_record(
        source,
        identifier=identifier_of(metadata) or "",
        title=_text(ident, "gmd:citation/gmd:CI_Citation/gmd:title/gco:CharacterString") or "",
        collection=_text(metadata, "gmd:parentIdentifier/gco:CharacterString"),
        start=start,
        end=end,
        bbox=bbox,
        updated=parse_time(stamp, "date stamp"),
        assets=_assets(metadata),
        crs=f"EPSG:{code}" if code and code.isdigit() else None,
        platform=attributes.get("platform"),
        instrument=attributes.get("instrument"),
        sensor_type=attributes.get("sensorType"),
        product_type=attributes.get("productType"),
        processing_level=(
            _text(image, "gmd:processingLevelCode/gmd:RS_Identifier/gmd:code/gco:CharacterString")
            if image is not None
            else None
        ),
        cloud_cover=(
            _float(_text(image, "gmd:cloudCoverPercentage/gco:Real")) if image is not None else None
        ),
        bands=[Band(str(name)) for name in _BAND_NAMES(metadata)],
        abstract=abstract,
        keywords=[word for word in keywords if word not in attributes.values()],
    )
