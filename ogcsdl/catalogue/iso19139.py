"""ISO 19115/19139 metadata for a :class:`ProductRecord`.

pycsw serves the stored document as-is for ``outputSchema=http://www.isotc211.org/2005/gmd``
(the apiso profile), so this document is what harvesters (GeoNetwork, GEOSS DAB, a DIAS)
see. It validates against the ISO 19139 schemas that pycsw ships.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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


def _attribute_keyword(w: _Writer, ident: int, thesaurus: str, value: str) -> None:
    """Few distinct values (platforms, instruments, ...): each block written once."""
    w.segment(
        ident,
        ("keyword", thesaurus, value),
        lambda part, under: _write_attribute_keyword(part, under, thesaurus, value),
    )


def _write_attribute_keyword(w: _Writer, ident: int, thesaurus: str, value: str) -> None:
    block = w.el(ident, "gmd:descriptiveKeywords/gmd:MD_Keywords")
    _string(w, block, "gmd:keyword", value)
    _code(w, block, "gmd:type/gmd:MD_KeywordTypeCode", "MD_KeywordTypeCode", "theme")
    citation = w.el(block, "gmd:thesaurusName/gmd:CI_Citation")
    _string(w, citation, "gmd:title", thesaurus)
    cited = w.el(citation, "gmd:date/gmd:CI_Date")
    w.el(cited, "gmd:date/gco:Date", _THESAURUS_DATE)
    _code(w, cited, "gmd:dateType/gmd:CI_DateTypeCode", "CI_DateTypeCode", "publication")


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
_INDENTS = tuple("  " * depth for depth in range(64))


def _checked(text: str) -> str:
    if _INVALID.search(text):  # what lxml refuses too
        raise ValueError(
            "All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control "
            "characters"
        )
    return text


def _attributes(**values: str) -> str:
    """`` name="value"`` pairs, escaped; ``prefix_name`` stands for ``prefix:name``."""
    pairs = []
    for key, value in values.items():
        prefix, _, name = key.partition("_")
        pairs.append(
            f' {f"{prefix}:{name}" if name else key}="{_checked(value).translate(_ATTRIBUTE)}"'
        )
    return "".join(pairs)


@cache
def _code_attributes(codelist: str, value: str) -> str:
    return _attributes(codeList=f"{_CODELISTS}#{codelist}", codeListValue=value)


@dataclass(frozen=True)
class _Chain:
    """What writing one ``prefix:name/prefix:name`` chain at one depth always writes:
    the start lines of its inner elements, the end lines they will need, and the last
    element's start tag (open: ``pending``; with text: ``leaf``) and end."""

    inner: str
    inner_ends: tuple[str, ...]
    pending: str
    end: str
    leaf: str
    leaf_end: str


@cache
def _chain(path: str, depth: int, attributes: str) -> _Chain:
    tags = path.split("/")
    inner = "".join(f"{_INDENTS[depth + n]}<{tag}>\n" for n, tag in enumerate(tags[:-1]))
    ends = tuple(f"{_INDENTS[depth + n]}</{tag}>\n" for n, tag in enumerate(tags[:-1]))
    last = depth + len(tags) - 1
    tag = tags[-1]
    return _Chain(
        inner,
        ends,
        f"{_INDENTS[last]}<{tag}{attributes}",
        f"{_INDENTS[last]}</{tag}>\n",
        f"{_INDENTS[last]}<{tag}{attributes}>",
        f"</{tag}>\n",
    )


class _Writer:
    """Writes a document as text in one pass, element after element, pretty-printed as
    lxml's ``tostring(pretty_print=True)`` prints it, and collects its texts on the way
    (``anytext``). Building an lxml (or any) tree first costs ~300 element objects per
    record, and bulk loads and harvests write one document per record.

    An open element is known by its depth; writing under it closes every element opened
    deeper since (a document is written in order, an element is never re-opened). An
    element closed without children is written empty (``<tag/>``)."""

    __slots__ = ("ends", "out", "pending", "texts")

    def __init__(self, root: str, attributes: str) -> None:
        self.out: list[str] = []
        self.texts: list[str] = []
        self.ends: list[str] = []  # end lines of the open elements, the root's first
        self.pending: str | None = None  # start tag of the deepest open element, unwritten
        self.el(-1, root, attributes=attributes)

    def _close(self, depth: int) -> None:
        """End the open elements deeper than ``depth``."""
        ends, out = self.ends, self.out
        while len(ends) > depth + 1:
            end = ends.pop()
            if self.pending is not None:  # no children: an empty element
                out.append(f"{self.pending}/>\n")
                self.pending = None
            else:
                out.append(end)

    def el(self, parent: int, path: str, text: str | None = None, attributes: str = "") -> int:
        """Write the chain ``prefix:name/prefix:name`` under the open element ``parent``;
        the last one gets ``text`` (then it is complete) or stays open for children.
        Returns the depth of the last element."""
        if len(self.ends) > parent + 1:
            self._close(parent)
        chain = _chain(path, parent + 1, attributes)
        if self.pending is not None:
            self.out.append(f"{self.pending}>\n")
            self.pending = None
        if chain.inner:
            self.out.append(chain.inner)
            self.ends.extend(chain.inner_ends)
        if text is None:
            self.pending = chain.pending
            self.ends.append(chain.end)
            return len(self.ends) - 1
        self.out.append(f"{chain.leaf}{_checked(text).translate(_TEXT)}{chain.leaf_end}")
        if stripped := text.strip():
            self.texts.append(stripped)
        return len(self.ends)

    def segment(self, parent: int, key: tuple[object, ...], build: _Build) -> None:
        """Write under the open element ``parent`` the complete subtree(s) ``build``
        writes there, whose text depends on ``key`` alone (a contact, a thesaurus
        keyword): written once, then copied with its texts. The same characters as
        calling ``build`` here: the elements it leaves open are closed before the next
        write under ``parent`` anyway."""
        if len(self.ends) > parent + 1:
            self._close(parent)
        if self.pending is not None:
            self.out.append(f"{self.pending}>\n")
            self.pending = None
        cached = _SEGMENTS.get((key, parent))
        if cached is None:
            part = _Writer.__new__(_Writer)
            part.out, part.texts, part.pending = [], [], None
            part.ends = [""] * (parent + 1)  # stands for the open elements around it
            build(part, parent)
            part._close(parent)
            cached = ("".join(part.out), tuple(part.texts))
            if len(_SEGMENTS) >= _SEGMENTS_MAX:  # keys come from data: stay bounded
                _SEGMENTS.clear()
            _SEGMENTS[(key, parent)] = cached
        self.out.append(cached[0])
        self.texts.extend(cached[1])

    def finish(self) -> IsoText:
        self._close(-1)
        return IsoText("".join(self.out), " ".join(self.texts))


_Build = Callable[[_Writer, int], None]
# (key, parent depth) -> (text, texts) of a segment; see _Writer.segment.
_SEGMENTS: dict[tuple[tuple[object, ...], int], tuple[str, tuple[str, ...]]] = {}
_SEGMENTS_MAX = 4096


@dataclass(frozen=True)
class IsoText:
    """A written document: its text (no XML declaration: pycsw parses the stored text
    as a str, which lxml refuses when it declares an encoding) and all its texts joined
    (what pycsw's ``util.get_anytext`` collects, without the empty runs between
    elements: the ``anytext`` column)."""

    xml: str
    anytext: str


def _string(w: _Writer, parent: int, path: str, text: str) -> None:
    w.el(parent, f"{path}/gco:CharacterString", text)


def _code(w: _Writer, parent: int, path: str, codelist: str, value: str) -> None:
    w.el(parent, path, value, _code_attributes(codelist, value))


def _contact(w: _Writer, parent: int, path: str, contact: MetadataContact, role: str) -> None:
    """The same for every record of a catalogue: written once (``_Writer.segment``)."""
    w.segment(
        parent,
        ("contact", path, contact, role),
        lambda part, under: _write_contact(part, under, path, contact, role),
    )


def _write_contact(w: _Writer, parent: int, path: str, contact: MetadataContact, role: str) -> None:
    party = w.el(parent, f"{path}/gmd:CI_ResponsibleParty")
    _string(w, party, "gmd:individualName", contact.name)
    _string(w, party, "gmd:organisationName", contact.organisation)
    address = w.el(party, "gmd:contactInfo/gmd:CI_Contact/gmd:address/gmd:CI_Address")
    _string(w, address, "gmd:electronicMailAddress", contact.email)
    _code(w, party, "gmd:role/gmd:CI_RoleCode", "CI_RoleCode", role)


@dataclass(frozen=True)
class OnlineLink:
    """One way to reach the product: its URL, the name there (layer, coverage or file),
    a description and the protocol clients pick it by (QGIS MetaSearch: OGC:WMS ...)."""

    url: str
    name: str
    description: str
    protocol: str = "WWW:DOWNLOAD-1.0-http--download"


def iso_document(record: ProductRecord, links: list[OnlineLink], contact: MetadataContact) -> bytes:
    """The gmd:MD_Metadata document of one product, UTF-8."""
    return iso_text(record, links, contact).xml.encode("utf-8")


def iso_text(record: ProductRecord, links: list[OnlineLink], contact: MetadataContact) -> IsoText:
    """The gmd:MD_Metadata document of one product and its texts."""
    w = _Writer("gmd:MD_Metadata", _DECLARATIONS)
    root = 0
    _string(w, root, "gmd:fileIdentifier", record.identifier)
    _code(w, root, "gmd:language/gmd:LanguageCode", "LanguageCode", "eng")
    _code(w, root, "gmd:characterSet/gmd:MD_CharacterSetCode", "MD_CharacterSetCode", "utf8")
    _string(w, root, "gmd:parentIdentifier", record.collection)
    _code(w, root, "gmd:hierarchyLevel/gmd:MD_ScopeCode", "MD_ScopeCode", "dataset")
    _contact(w, root, "gmd:contact", contact, "pointOfContact")
    w.el(root, "gmd:dateStamp/gco:DateTime", iso_datetime(record.updated))
    _string(w, root, "gmd:metadataStandardName", "ISO 19115:2003/19139")
    _string(w, root, "gmd:metadataStandardVersion", "1.0")

    code = epsg_code(record.crs)
    unit = _attributes(uom="deg" if code == "4326" else "m")
    grid = w.el(root, "gmd:spatialRepresentationInfo/gmd:MD_GridSpatialRepresentation")
    w.el(grid, "gmd:numberOfDimensions/gco:Integer", "2")
    for axis, size, resolution in (
        ("column", record.width, record.resolution[0]),
        ("row", record.height, record.resolution[1]),
    ):
        dimension = w.el(grid, "gmd:axisDimensionProperties/gmd:MD_Dimension")
        _code(
            w,
            dimension,
            "gmd:dimensionName/gmd:MD_DimensionNameTypeCode",
            "MD_DimensionNameTypeCode",
            axis,
        )
        w.el(dimension, "gmd:dimensionSize/gco:Integer", str(size))
        w.el(dimension, "gmd:resolution/gco:Measure", repr(float(resolution)), unit)
    _code(w, grid, "gmd:cellGeometry/gmd:MD_CellGeometryCode", "MD_CellGeometryCode", "area")
    w.el(grid, "gmd:transformationParameterAvailability/gco:Boolean", "true")

    if code is not None:
        identifier = w.el(
            root,
            "gmd:referenceSystemInfo/gmd:MD_ReferenceSystem/gmd:referenceSystemIdentifier/gmd:RS_Identifier",
        )
        _string(w, identifier, "gmd:code", code)
        _string(w, identifier, "gmd:codeSpace", "EPSG")

    ident = w.el(root, "gmd:identificationInfo/gmd:MD_DataIdentification")
    citation = w.el(ident, "gmd:citation/gmd:CI_Citation")
    _string(w, citation, "gmd:title", record.title)
    cited = w.el(citation, "gmd:date/gmd:CI_Date")
    w.el(cited, "gmd:date/gco:DateTime", iso_datetime(record.start))
    _code(w, cited, "gmd:dateType/gmd:CI_DateTypeCode", "CI_DateTypeCode", "creation")
    _string(w, citation, "gmd:identifier/gmd:MD_Identifier/gmd:code", record.identifier)
    _string(w, ident, "gmd:abstract", record.abstract or record.title)
    _contact(w, ident, "gmd:pointOfContact", contact, "publisher")
    keywords = w.el(ident, "gmd:descriptiveKeywords/gmd:MD_Keywords")
    for word in product_keywords(record):
        _string(w, keywords, "gmd:keyword", word)
    _code(w, keywords, "gmd:type/gmd:MD_KeywordTypeCode", "MD_KeywordTypeCode", "theme")
    for thesaurus, keyword in eo_attributes(record).items():
        _attribute_keyword(w, ident, thesaurus, keyword)
    _code(
        w,
        ident,
        "gmd:spatialRepresentationType/gmd:MD_SpatialRepresentationTypeCode",
        "MD_SpatialRepresentationTypeCode",
        "grid",
    )
    _code(w, ident, "gmd:language/gmd:LanguageCode", "LanguageCode", "eng")
    w.el(ident, "gmd:topicCategory/gmd:MD_TopicCategoryCode", "imageryBaseMapsEarthCover")
    extent = w.el(ident, "gmd:extent/gmd:EX_Extent")
    box = w.el(extent, "gmd:geographicElement/gmd:EX_GeographicBoundingBox")
    minx, miny, maxx, maxy = record.bbox
    for name, value in (
        ("westBoundLongitude", minx),
        ("eastBoundLongitude", maxx),
        ("southBoundLatitude", miny),
        ("northBoundLatitude", maxy),
    ):
        w.el(box, f"gmd:{name}/gco:Decimal", repr(float(value)))
    period = w.el(
        extent,
        "gmd:temporalElement/gmd:EX_TemporalExtent/gmd:extent/gml:TimePeriod",
        attributes=_attributes(gml_id="acquisition"),
    )
    w.el(period, "gml:beginPosition", iso_datetime(record.start))
    w.el(period, "gml:endPosition", iso_datetime(record.end))

    image = w.el(root, "gmd:contentInfo/gmd:MD_ImageDescription")
    w.el(image, "gmd:attributeDescription/gco:RecordType", "pixel values")
    _code(
        w,
        image,
        "gmd:contentType/gmd:MD_CoverageContentTypeCode",
        "MD_CoverageContentTypeCode",
        "image",
    )
    for band in record.bands:
        md_band = w.el(image, "gmd:dimension/gmd:MD_Band")
        member = w.el(md_band, "gmd:sequenceIdentifier/gco:MemberName")
        _string(w, member, "gco:aName", band.name)
        _string(w, member, "gco:attributeType/gco:TypeName/gco:aName", record.dtype)
        if band.description:
            _string(w, md_band, "gmd:descriptor", band.description)
    if record.cloud_cover is not None:
        w.el(image, "gmd:cloudCoverPercentage/gco:Real", repr(float(record.cloud_cover)))
    if record.processing_level:
        _string(
            w, image, "gmd:processingLevelCode/gmd:RS_Identifier/gmd:code", record.processing_level
        )

    distribution = w.el(root, "gmd:distributionInfo/gmd:MD_Distribution")
    fmt = w.el(distribution, "gmd:distributionFormat/gmd:MD_Format")
    _string(w, fmt, "gmd:name", COG_FORMAT)
    _string(w, fmt, "gmd:version", "1.0")
    options = w.el(distribution, "gmd:transferOptions/gmd:MD_DigitalTransferOptions")
    for link in links:
        online = w.el(options, "gmd:onLine/gmd:CI_OnlineResource")
        w.el(online, "gmd:linkage/gmd:URL", link.url)
        _string(w, online, "gmd:protocol", link.protocol)
        _string(w, online, "gmd:name", link.name)
        _string(w, online, "gmd:description", link.description)

    quality = w.el(root, "gmd:dataQualityInfo/gmd:DQ_DataQuality")
    _code(
        w, quality, "gmd:scope/gmd:DQ_Scope/gmd:level/gmd:MD_ScopeCode", "MD_ScopeCode", "dataset"
    )
    _string(
        w,
        quality,
        "gmd:lineage/gmd:LI_Lineage/gmd:statement",
        record.lineage or f"Ingested from {record.source or record.identifier}",
    )
    return w.finish()


def anytext(document: bytes) -> str:
    """All text of a document (what pycsw's ``util.get_anytext`` collects, without the
    empty runs between elements), as :attr:`IsoText.anytext` has it."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(document, parser)
    return " ".join(text for value in root.itertext() if (text := value.strip()))


def now_iso() -> str:
    return iso_datetime(datetime.now(UTC))
