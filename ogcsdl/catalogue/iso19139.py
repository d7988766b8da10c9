"""ISO 19115/19139 metadata for a :class:`ProductRecord`.

pycsw serves the stored document as-is for ``outputSchema=http://www.isotc211.org/2005/gmd``
(the apiso profile), so this document is what harvesters (GeoNetwork, GEOSS DAB, a DIAS)
see. It validates against the ISO 19139 schemas that pycsw ships.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from lxml import etree

from ogcsdl.catalogue.record import COG_MEDIA_TYPE, ProductRecord

NS = {
    "gmd": "http://www.isotc211.org/2005/gmd",
    "gco": "http://www.isotc211.org/2005/gco",
    "gml": "http://www.opengis.net/gml",
    "xlink": "http://www.w3.org/1999/xlink",
}
GMD_SCHEMA = NS["gmd"]
_CODELISTS = "http://standards.iso.org/iso/19139/resources/gmxCodelists.xml"
COG_FORMAT = COG_MEDIA_TYPE


@dataclass(frozen=True)
class MetadataContact:
    """Who answers for the metadata (from ``Settings.catalogue``)."""

    organisation: str
    name: str
    email: str


def iso_datetime(value: datetime) -> str:
    """UTC, second precision, ``Z`` suffix: sorts and compares correctly as text, which
    is how pycsw compares times."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epsg_code(crs: str) -> str | None:
    """``EPSG:32633`` -> ``32633``; anything else -> None."""
    authority, _, code = crs.partition(":")
    return code if authority.upper() == "EPSG" and code.isdigit() else None


def product_keywords(record: ProductRecord) -> list[str]:
    """Keywords shown in the record: collection, platform, instrument, product type,
    processing level and the record's own, without duplicates."""
    candidates = [
        record.collection,
        record.platform,
        record.instrument,
        record.sensor_type,
        record.product_type,
        record.processing_level,
        *record.keywords,
    ]
    seen: list[str] = []
    for word in candidates:
        if word and word not in seen:
            seen.append(word)
    return seen


# Thesaurus titles of the one-keyword blocks that carry each EO attribute, so a
# harvester can read them back without guessing from the free keyword list.
EO_THESAURI = ("platform", "instrument", "sensorType", "productType")
_THESAURUS_DATE = "2026-01-01"


def eo_attributes(record: ProductRecord) -> dict[str, str]:
    values = {
        "platform": record.platform,
        "instrument": record.instrument,
        "sensorType": record.sensor_type,
        "productType": record.product_type,
    }
    return {key: value for key, value in values.items() if value}


def _attribute_keyword(ident: Node, thesaurus: str, value: str) -> None:
    block = _el(ident, "gmd:descriptiveKeywords/gmd:MD_Keywords")
    _string(block, "gmd:keyword", value)
    _code(block, "gmd:type/gmd:MD_KeywordTypeCode", "MD_KeywordTypeCode", "theme")
    citation = _el(block, "gmd:thesaurusName/gmd:CI_Citation")
    _string(citation, "gmd:title", thesaurus)
    cited = _el(citation, "gmd:date/gmd:CI_Date")
    _el(cited, "gmd:date/gco:Date", _THESAURUS_DATE)
    _code(cited, "gmd:dateType/gmd:CI_DateTypeCode", "CI_DateTypeCode", "publication")


class Node:
    """A light XML element: prefixed tag, attributes, text, children. lxml spends ~6 us
    creating each element and a record has ~300; bulk loads and harvests build one
    document per record, so the document is built from these and written once by
    :func:`serialize` (same elements, same order, pretty-printed like lxml)."""

    __slots__ = ("attrib", "children", "tag", "text")

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.attrib: dict[str, str] = {}
        self.text: str | None = None
        self.children: list[Node] = []

    def set(self, key: str, value: str) -> None:
        """An attribute, by plain name or Clark name (``{namespace}name``)."""
        if key.startswith("{"):
            namespace, _, name = key[1:].partition("}")
            key = f"{_PREFIXES[namespace]}:{name}"
        self.attrib[key] = value


_PREFIXES = {namespace: prefix for prefix, namespace in NS.items()}


@cache
def _tags(path: str) -> tuple[str, ...]:
    return tuple(path.split("/"))


def _el(parent: Node, path: str, text: str | None = None, **attrs: str) -> Node:
    """Create the chain of ``prefix:name/prefix:name`` children under parent."""
    node = parent
    for tag in _tags(path):
        child = Node(tag)
        node.children.append(child)
        node = child
    for key, value in attrs.items():
        prefix, _, name = key.partition("_")
        node.set(f"{prefix}:{name}" if name else key, value)
    if text is not None:
        node.text = text
    return node


def _string(parent: Node, path: str, text: str) -> None:
    _el(parent, f"{path}/gco:CharacterString", text)


def _code(parent: Node, path: str, codelist: str, value: str) -> None:
    node = _el(parent, path, value)
    node.set("codeList", f"{_CODELISTS}#{codelist}")
    node.set("codeListValue", value)


def _contact(parent: Node, path: str, contact: MetadataContact, role: str) -> None:
    party = _el(parent, f"{path}/gmd:CI_ResponsibleParty")
    _string(party, "gmd:individualName", contact.name)
    _string(party, "gmd:organisationName", contact.organisation)
    address = _el(party, "gmd:contactInfo/gmd:CI_Contact/gmd:address/gmd:CI_Address")
    _string(address, "gmd:electronicMailAddress", contact.email)
    _code(party, "gmd:role/gmd:CI_RoleCode", "CI_RoleCode", role)


@dataclass(frozen=True)
class OnlineLink:
    """One way to reach the product: its URL, the name there (layer, coverage or file),
    a description and the protocol clients pick it by (QGIS MetaSearch: OGC:WMS ...)."""

    url: str
    name: str
    description: str
    protocol: str = "WWW:DOWNLOAD-1.0-http--download"


def iso_document(record: ProductRecord, links: list[OnlineLink], contact: MetadataContact) -> bytes:
    """The gmd:MD_Metadata document of one product."""
    return serialize(iso_tree(record, links, contact))


_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)
_DECLARATIONS = "".join(f' xmlns:{prefix}="{namespace}"' for prefix, namespace in NS.items())


def _checked(text: str) -> str:
    if _INVALID.search(text):  # what lxml refuses too
        raise ValueError(
            "All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control "
            "characters"
        )
    return text


def serialize(root: Node) -> bytes:
    """The stored form of a document, UTF-8, pretty-printed. No XML declaration: pycsw
    parses the stored text as a str, which lxml refuses when it declares an encoding."""
    out: list[str] = []
    _write(root, 0, out)
    return "".join(out).encode("utf-8")


def _write(node: Node, depth: int, out: list[str]) -> None:
    indent = "  " * depth
    attributes = _DECLARATIONS if depth == 0 else ""
    for key, value in node.attrib.items():
        attributes += f' {key}="{_checked(value).translate(_ATTRIBUTE)}"'
    text = "" if node.text is None else _checked(node.text).translate(_TEXT)
    if node.children:
        out.append(f"{indent}<{node.tag}{attributes}>{text}\n")
        for child in node.children:
            _write(child, depth + 1, out)
        out.append(f"{indent}</{node.tag}>\n")
    elif node.text is not None:
        out.append(f"{indent}<{node.tag}{attributes}>{text}</{node.tag}>\n")
    else:
        out.append(f"{indent}<{node.tag}{attributes}/>\n")


def iso_tree(record: ProductRecord, links: list[OnlineLink], contact: MetadataContact) -> Node:
    """The gmd:MD_Metadata element of one product."""
    root = Node("gmd:MD_Metadata")
    _string(root, "gmd:fileIdentifier", record.identifier)
    _code(root, "gmd:language/gmd:LanguageCode", "LanguageCode", "eng")
    _code(root, "gmd:characterSet/gmd:MD_CharacterSetCode", "MD_CharacterSetCode", "utf8")
    _string(root, "gmd:parentIdentifier", record.collection)
    _code(root, "gmd:hierarchyLevel/gmd:MD_ScopeCode", "MD_ScopeCode", "dataset")
    _contact(root, "gmd:contact", contact, "pointOfContact")
    _el(root, "gmd:dateStamp/gco:DateTime", iso_datetime(record.updated))
    _string(root, "gmd:metadataStandardName", "ISO 19115:2003/19139")
    _string(root, "gmd:metadataStandardVersion", "1.0")

    code = epsg_code(record.crs)
    unit = "deg" if code == "4326" else "m"
    grid = _el(root, "gmd:spatialRepresentationInfo/gmd:MD_GridSpatialRepresentation")
    _el(grid, "gmd:numberOfDimensions/gco:Integer", "2")
    for axis, size, resolution in (
        ("column", record.width, record.resolution[0]),
        ("row", record.height, record.resolution[1]),
    ):
        dimension = _el(grid, "gmd:axisDimensionProperties/gmd:MD_Dimension")
        _code(
            dimension,
            "gmd:dimensionName/gmd:MD_DimensionNameTypeCode",
            "MD_DimensionNameTypeCode",
            axis,
        )
        _el(dimension, "gmd:dimensionSize/gco:Integer", str(size))
        _el(dimension, "gmd:resolution/gco:Measure", repr(float(resolution)), uom=unit)
    _code(grid, "gmd:cellGeometry/gmd:MD_CellGeometryCode", "MD_CellGeometryCode", "area")
    _el(grid, "gmd:transformationParameterAvailability/gco:Boolean", "true")

    if code is not None:
        identifier = _el(
            root,
            "gmd:referenceSystemInfo/gmd:MD_ReferenceSystem/gmd:referenceSystemIdentifier/gmd:RS_Identifier",
        )
        _string(identifier, "gmd:code", code)
        _string(identifier, "gmd:codeSpace", "EPSG")

    ident = _el(root, "gmd:identificationInfo/gmd:MD_DataIdentification")
    citation = _el(ident, "gmd:citation/gmd:CI_Citation")
    _string(citation, "gmd:title", record.title)
    cited = _el(citation, "gmd:date/gmd:CI_Date")
    _el(cited, "gmd:date/gco:DateTime", iso_datetime(record.start))
    _code(cited, "gmd:dateType/gmd:CI_DateTypeCode", "CI_DateTypeCode", "creation")
    _string(citation, "gmd:identifier/gmd:MD_Identifier/gmd:code", record.identifier)
    _string(ident, "gmd:abstract", record.abstract or record.title)
    _contact(ident, "gmd:pointOfContact", contact, "publisher")
    keywords = _el(ident, "gmd:descriptiveKeywords/gmd:MD_Keywords")
    for word in product_keywords(record):
        _string(keywords, "gmd:keyword", word)
    _code(keywords, "gmd:type/gmd:MD_KeywordTypeCode", "MD_KeywordTypeCode", "theme")
    for thesaurus, keyword in eo_attributes(record).items():
        _attribute_keyword(ident, thesaurus, keyword)
    _code(
        ident,
        "gmd:spatialRepresentationType/gmd:MD_SpatialRepresentationTypeCode",
        "MD_SpatialRepresentationTypeCode",
        "grid",
    )
    _code(ident, "gmd:language/gmd:LanguageCode", "LanguageCode", "eng")
    _el(ident, "gmd:topicCategory/gmd:MD_TopicCategoryCode", "imageryBaseMapsEarthCover")
    extent = _el(ident, "gmd:extent/gmd:EX_Extent")
    box = _el(extent, "gmd:geographicElement/gmd:EX_GeographicBoundingBox")
    minx, miny, maxx, maxy = record.bbox
    for name, value in (
        ("westBoundLongitude", minx),
        ("eastBoundLongitude", maxx),
        ("southBoundLatitude", miny),
        ("northBoundLatitude", maxy),
    ):
        _el(box, f"gmd:{name}/gco:Decimal", repr(float(value)))
    period = _el(extent, "gmd:temporalElement/gmd:EX_TemporalExtent/gmd:extent/gml:TimePeriod")
    period.set(f"{{{NS['gml']}}}id", "acquisition")
    _el(period, "gml:beginPosition", iso_datetime(record.start))
    _el(period, "gml:endPosition", iso_datetime(record.end))

    image = _el(root, "gmd:contentInfo/gmd:MD_ImageDescription")
    _el(image, "gmd:attributeDescription/gco:RecordType", "pixel values")
    _code(
        image,
        "gmd:contentType/gmd:MD_CoverageContentTypeCode",
        "MD_CoverageContentTypeCode",
        "image",
    )
    for band in record.bands:
        md_band = _el(image, "gmd:dimension/gmd:MD_Band")
        member = _el(md_band, "gmd:sequenceIdentifier/gco:MemberName")
        _string(member, "gco:aName", band.name)
        _string(member, "gco:attributeType/gco:TypeName/gco:aName", record.dtype)
        if band.description:
            _string(md_band, "gmd:descriptor", band.description)
    if record.cloud_cover is not None:
        _el(image, "gmd:cloudCoverPercentage/gco:Real", repr(float(record.cloud_cover)))
    if record.processing_level:
        _string(
            image, "gmd:processingLevelCode/gmd:RS_Identifier/gmd:code", record.processing_level
        )

    distribution = _el(root, "gmd:distributionInfo/gmd:MD_Distribution")
    fmt = _el(distribution, "gmd:distributionFormat/gmd:MD_Format")
    _string(fmt, "gmd:name", COG_FORMAT)
    _string(fmt, "gmd:version", "1.0")
    options = _el(distribution, "gmd:transferOptions/gmd:MD_DigitalTransferOptions")
    for link in links:
        online = _el(options, "gmd:onLine/gmd:CI_OnlineResource")
        _el(online, "gmd:linkage/gmd:URL", link.url)
        _string(online, "gmd:protocol", link.protocol)
        _string(online, "gmd:name", link.name)
        _string(online, "gmd:description", link.description)

    quality = _el(root, "gmd:dataQualityInfo/gmd:DQ_DataQuality")
    _code(quality, "gmd:scope/gmd:DQ_Scope/gmd:level/gmd:MD_ScopeCode", "MD_ScopeCode", "dataset")
    _string(
        quality,
        "gmd:lineage/gmd:LI_Lineage/gmd:statement",
        record.lineage or f"Ingested from {record.source or record.identifier}",
    )
    return root


def anytext(document: bytes | Node) -> str:
    """All text of the document (what pycsw's ``util.get_anytext`` collects, without the
    empty runs between elements), from its text or its tree."""
    if isinstance(document, bytes):
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(document, parser)
        return " ".join(text for value in root.itertext() if (text := value.strip()))
    texts: list[str] = []
    stack = [document]
    while stack:
        node = stack.pop()
        if node.text and (text := node.text.strip()):
            texts.append(text)
        stack.extend(reversed(node.children))
    return " ".join(texts)


def now_iso() -> str:
    return iso_datetime(datetime.now(UTC))
