"""The harvest's ISO 19139 reader (lxml paths) against OWSLib's ``MD_Metadata``, which
it replaced for speed: on our own documents and on the shapes other catalogues write
(``gmx:Anchor`` keywords and codes, GML 3.2 periods, a date without time, missing
parts) both must read the same fields, and records that lack what a product needs are
rejected with the reason."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from owslib.iso import MD_ImageDescription, MD_Metadata

from ogcsdl.catalogue.iso19139 import MetadataContact, OnlineLink, iso_document
from ogcsdl.harvest.iso_reader import iso_record, records_in
from ogcsdl.harvest.model import HarvestSource, RejectedEntry
from ogcsdl.harvest.transport import parse_xml
from tests.catalogue_fixtures import sample_products

SOURCE = HarvestSource("peer", "https://peer.example/csw", "csw")
GMX = 'xmlns:gmx="http://www.isotc211.org/2005/gmx"'


def _document() -> str:
    record = sample_products()[0]
    links = [OnlineLink("https://peer.example/a.tif", "a.tif", "COG")]
    contact = MetadataContact("Lab", "Operator", "op@example.org")
    return iso_document(record, links, contact).decode()


def _anchor(path_start: str, text: str, count: int = 0) -> str:
    return re.sub(
        rf"({path_start})\s*<gco:CharacterString>([^<]*)</gco:CharacterString>",
        rf"\1<gmx:Anchor {GMX}>\2</gmx:Anchor>",
        text,
        count=count,
    )


VARIANTS = {
    "ours": lambda text: text,
    "anchor keywords": lambda text: _anchor("<gmd:keyword>", text),
    "anchor crs code": lambda text: _anchor("<gmd:RS_Identifier>\\s*<gmd:code>", text, 1),
    "anchor link name": lambda text: _anchor("<gmd:CI_OnlineResource>(?:.|\\n)*?<gmd:name>", text),
    "gml 3.2": lambda text: text.replace(
        'xmlns:gml="http://www.opengis.net/gml"', 'xmlns:gml="http://www.opengis.net/gml/3.2"'
    ),
    "date only": lambda text: re.sub(
        r"<gmd:dateStamp>.*?</gmd:dateStamp>",
        "<gmd:dateStamp><gco:Date>2024-05-01</gco:Date></gmd:dateStamp>",
        text,
        flags=re.S,
    ),
    "no distribution": lambda text: re.sub(
        r"<gmd:distributionInfo>.*?</gmd:distributionInfo>", "", text, flags=re.S
    ),
    "no content": lambda text: re.sub(
        r"<gmd:contentInfo>.*?</gmd:contentInfo>", "", text, flags=re.S
    ),
    "unreadable cloud cover": lambda text: text.replace("<gco:Real>", "<gco:Real>lots"),
}


def _owslib_view(metadata: MD_Metadata) -> dict[str, object]:
    """The fields a harvested record takes, as OWSLib reads them."""
    ident = metadata.identification[0]
    image = next(c for c in metadata.contentinfo if isinstance(c, MD_ImageDescription))
    return {
        "identifier": metadata.identifier,
        "title": ident.title,
        "collection": metadata.parentidentifier,
        "bbox": tuple(float(getattr(ident.bbox, n)) for n in ("minx", "miny", "maxx", "maxy")),
        "start": ident.temporalextent_start,
        "end": ident.temporalextent_end,
        "crs": metadata.referencesystem.code,
        "cloud": image.cloud_cover,
        "level": image.processing_level,
        "links": [(o.url, o.name, o.description) for o in metadata.distribution.online],
        "keywords": sorted(w.name for block in ident.keywords for w in block.keywords),
    }


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_reader_reads_what_owslib_reads(variant: str) -> None:
    text = VARIANTS[variant](_document())
    root = parse_xml(text.encode(), "test")
    record = iso_record(SOURCE, root)
    assert record.source == "harvest:peer" and not record.is_local
    if variant in ("no distribution", "no content"):
        assert (record.remote_assets == []) == (variant == "no distribution")
        assert (record.bands == []) == (variant == "no content")
        return
    expected = _owslib_view(MD_Metadata(root))
    assert record.identifier == expected["identifier"]
    assert record.title == expected["title"]
    assert record.collection == expected["collection"]
    assert record.bbox == expected["bbox"]
    assert record.start.strftime("%Y-%m-%dT%H:%M:%SZ") == expected["start"]
    assert record.end.strftime("%Y-%m-%dT%H:%M:%SZ") == expected["end"]
    assert record.crs == f"EPSG:{expected['crs']}"
    cloud = expected["cloud"]
    assert record.cloud_cover == (None if variant == "unreadable cloud cover" else float(cloud))
    assert record.processing_level == expected["level"]
    assert [(a["href"], a["title"], a["type"]) for a in record.remote_assets] == expected["links"]
    eo_values = {record.platform, record.instrument, record.sensor_type, record.product_type}
    keywords = expected["keywords"]
    assert isinstance(keywords, list)
    assert set(record.keywords) | (eo_values - {None}) == set(keywords)
    assert record.platform == "Sentinel-2A"
    assert [band.name for band in record.bands]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (r"<gmd:identificationInfo>.*?</gmd:identificationInfo>", "with identification"),
        (r"<gmd:geographicElement>.*?</gmd:geographicElement>", "no geographic bounding box"),
        (r"<gmd:temporalElement>.*?</gmd:temporalElement>", "no begin time"),
        (r"<gmd:fileIdentifier>.*?</gmd:fileIdentifier>", "no identifier"),
    ],
)
def test_records_without_what_a_product_needs_are_rejected(change: str, why: str) -> None:
    text = re.sub(change, "", _document(), count=1, flags=re.S)
    with pytest.raises(RejectedEntry, match=why):
        iso_record(SOURCE, parse_xml(text.encode(), "test"))


def test_a_csw_page_yields_every_record_and_entities_stay_unexpanded() -> None:
    body = _document()
    page = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "EXPANDED">]>'
        '<csw:GetRecordsResponse xmlns:csw="http://www.opengis.net/cat/csw/2.0.2">'
        f"<csw:SearchResults>{body}{body.replace('S2A-STHLM-0601', 'S2A-&x;')}"
        "</csw:SearchResults></csw:GetRecordsResponse>"
    )
    root = parse_xml(page.encode(), "test")
    identifiers = [iso_record(SOURCE, element).identifier for element in records_in(root)]
    assert identifiers[0] == "S2A-STHLM-0601"
    assert len(identifiers) == 2 and "EXPANDED" not in identifiers[1]
    assert etree.QName(root).localname == "GetRecordsResponse"
