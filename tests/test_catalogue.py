"""The catalogue (pycsw) over products written through the product store, on SQLite and
a real PostGIS (fixture ``catalogue``): CSW 2.0.2 and 3.0 through OWSLib, Dublin Core
and ISO 19139 output, and the store -> catalogue projection staying consistent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from lxml import etree
from owslib import fes, fes2
from owslib.catalogue.csw2 import CatalogueServiceWeb as Csw2
from owslib.catalogue.csw3 import CatalogueServiceWeb as Csw3

from tests.catalogue_fixtures import (
    CRS84,
    GMD,
    NS,
    Catalogue,
    _square,
    ids_of,
    product,
)


# --- CSW 2.0.2 through OWSLib -----------------------------------------------------------
def test_capabilities_advertise_the_configured_url_and_eo_queryables(catalogue: Catalogue) -> None:
    csw = Csw2(catalogue.url)
    assert csw.identification.title == catalogue.settings.catalogue.title
    get_records = csw.get_operation_by_name("GetRecords")
    assert get_records.methods[0]["url"] == catalogue.url
    constraints = {c.name: c.values for c in get_records.constraints}
    advertised = set(constraints.get("AdditionalQueryables", []))
    assert {"apiso:Platform", "apiso:CloudCover", "apiso:Instrument"} <= advertised


def test_csw2_bbox_uses_the_footprint_not_the_bbox(catalogue: Catalogue) -> None:
    csw = Csw2(catalogue.url)
    csw.getrecords2([fes.BBox([16.5, 58.5, 18.5, 60.5], crs=CRS84)], maxrecords=50)
    assert ids_of(csw.records) == {"S2A-STHLM-0601", "S2B-STHLM-0610", "S1A-STHLM-0605"}
    # Upper-left corner of the Stockholm tile: outside S2A's triangular footprint.
    csw.getrecords2([fes.BBox([17.05, 59.8, 17.2, 59.95], crs=CRS84)], maxrecords=50)
    assert ids_of(csw.records) == {"S2B-STHLM-0610", "S1A-STHLM-0605"}


def test_csw2_time_cloud_cover_and_platform_filters(catalogue: Catalogue) -> None:
    csw = Csw2(catalogue.url)
    june = fes.And(
        [
            fes.PropertyIsGreaterThanOrEqualTo("apiso:TempExtent_begin", "2024-06-01T00:00:00Z"),
            fes.PropertyIsLessThanOrEqualTo("apiso:TempExtent_end", "2024-06-30T23:59:59Z"),
        ]
    )
    csw.getrecords2([june], maxrecords=50)
    assert ids_of(csw.records) == {"S2A-STHLM-0601", "S2B-STHLM-0610", "S1A-STHLM-0605"}

    csw.getrecords2([fes.PropertyIsLessThanOrEqualTo("apiso:CloudCover", "20")], maxrecords=50)
    assert ids_of(csw.records) == {"S2A-STHLM-0601", "S2A-GBG-0715"}

    csw.getrecords2([fes.PropertyIsEqualTo("apiso:Platform", "Sentinel-2B")], maxrecords=50)
    assert ids_of(csw.records) == {"S2B-STHLM-0610", "S2B-UMEA-1201"}

    csw.getrecords2([fes.PropertyIsEqualTo("apiso:SensorType", "RADAR")], maxrecords=50)
    assert ids_of(csw.records) == {"S1A-STHLM-0605"}

    everything = fes.And(
        [
            fes.BBox([16.5, 58.5, 18.5, 60.5], crs=CRS84),
            fes.PropertyIsGreaterThanOrEqualTo("apiso:TempExtent_begin", "2024-06-01"),
            fes.PropertyIsLessThan("apiso:CloudCover", "20"),
        ]
    )
    csw.getrecords2([everything], maxrecords=50)
    assert ids_of(csw.records) == {"S2A-STHLM-0601"}


def test_csw2_post_requests_are_still_validated_with_the_compiled_schema(
    catalogue: Catalogue,
) -> None:
    """pycsw compiles the CSW 2.0.2 request schema once per process now (it took ~0.5 s
    per request): every POST is still checked against it, first and later ones alike."""
    valid = (
        '<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" service="CSW" '
        'version="2.0.2" resultType="hits"><csw:Query typeNames="csw:Record">'
        "<csw:ElementSetName>brief</csw:ElementSetName></csw:Query></csw:GetRecords>"
    )
    invalid = valid.replace("<csw:ElementSetName>brief", "<csw:Nonsense/><csw:ElementSetName>brief")
    for _ in range(3):  # gunicorn has two workers: reach both, twice
        good = requests.post(catalogue.url, data=valid, timeout=30)
        assert good.status_code == 200 and b"numberOfRecordsMatched" in good.content
        bad = requests.post(catalogue.url, data=invalid, timeout=30)
        assert bad.status_code == 400 and b"not valid" in bad.content, bad.text


def test_csw2_full_text(catalogue: Catalogue) -> None:
    csw = Csw2(catalogue.url)
    csw.getrecords2([fes.PropertyIsLike("csw:AnyText", "%Gothenburg%")], maxrecords=50)
    assert ids_of(csw.records) == {"S2A-GBG-0715"}


def test_csw2_sorting_and_paging(catalogue: Catalogue) -> None:
    csw = Csw2(catalogue.url)
    optical = fes.PropertyIsLike("apiso:Platform", "Sentinel-2%")
    order = fes.SortBy([fes.SortProperty("apiso:CloudCover", "ASC")])
    csw.getrecords2([optical], sortby=order, maxrecords=50)
    assert list(csw.records) == [
        "S2A-STHLM-0601",
        "S2A-GBG-0715",
        "S2B-STHLM-0610",
        "S2B-UMEA-1201",
    ]
    csw.getrecords2([optical], sortby=order, startposition=3, maxrecords=2)
    assert list(csw.records) == ["S2B-STHLM-0610", "S2B-UMEA-1201"]
    assert csw.results["matches"] == 4
    assert csw.results["returned"] == 2


def test_csw2_get_record_by_id_dublin_core_and_iso(catalogue: Catalogue) -> None:
    csw = Csw2(catalogue.url)
    csw.getrecordbyid(["S2A-GBG-0715"])
    record = csw.records["S2A-GBG-0715"]
    assert record.title == "Sentinel-2A L2A over Gothenburg"
    assert "Sentinel-2A" in record.subjects
    assert record.bbox is not None and float(record.bbox.minx) == pytest.approx(11.0)

    csw.getrecordbyid(["S2A-GBG-0715"], outputschema=GMD)
    iso = csw.records["S2A-GBG-0715"]
    assert iso.identifier == "S2A-GBG-0715"
    assert iso.identification[0].title == "Sentinel-2A L2A over Gothenburg"
    extent = iso.identification[0].extent.boundingBox
    assert (float(extent.minx), float(extent.maxy)) == (11.0, 58.0)
    linkage = iso.distribution.online[0].url
    assert linkage == catalogue.settings.url("data/S2A-GBG-0715.tif")


# --- CSW 3.0 through OWSLib ---------------------------------------------------------------
def test_csw3_filters_and_record_by_id(catalogue: Catalogue) -> None:
    csw = Csw3(catalogue.url)
    assert csw.version == "3.0.0"
    csw.getrecords(
        [
            fes2.And(
                [
                    fes2.PropertyIsEqualTo("apiso:Platform", "Sentinel-2A"),
                    fes2.PropertyIsLessThan("apiso:CloudCover", "10"),
                ]
            )
        ],
        maxrecords=50,
    )
    assert ids_of(csw.records) == {"S2A-STHLM-0601"}
    csw.getrecords(
        [fes2.PropertyIsGreaterThan("apiso:CloudCover", "10")],
        sortby=fes2.SortBy([fes2.SortProperty("apiso:CloudCover", "DESC")]),
        maxrecords=50,
    )
    assert list(csw.records) == ["S2B-UMEA-1201", "S2B-STHLM-0610", "S2A-GBG-0715"]
    # CSW 3.0 GetRecordById answers the bare record, which OWSLib 0.35 does not parse
    # (it looks for records below the root): read it directly.
    response = requests.get(
        catalogue.url,
        params={
            "service": "CSW",
            "version": "3.0.0",
            "request": "GetRecordById",
            "id": "S1A-STHLM-0605",
        },
        timeout=30,
    )
    record = etree.fromstring(response.content)
    assert etree.QName(record).namespace == NS["csw30"]
    assert record.findtext("dc:title", namespaces=NS) == "Sentinel-1A GRD over Stockholm"


def test_csw3_kvp_bbox_and_time(catalogue: Catalogue) -> None:
    """CSW 3.0 GetRecords KVP with BBOX and TIME (pycsw 2.6 cannot validate a CSW 3.0
    POST BBOX: its fes 2.0 schema lacks GML 3.2)."""
    response = requests.get(
        catalogue.url,
        params={
            "service": "CSW",
            "version": "3.0.0",
            "request": "GetRecords",
            "typenames": "csw:Record",
            "elementsetname": "brief",
            "bbox": "16.5,58.5,18.5,60.5",
            "time": "2024-06-02/2024-06-30",
        },
        timeout=30,
    )
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    found = {node.text for node in root.iterfind(".//dc:identifier", NS)}
    assert found == {"S2B-STHLM-0610", "S1A-STHLM-0605"}


def test_describe_record_and_iso_document(catalogue: Catalogue) -> None:
    response = requests.get(
        catalogue.url,
        params={
            "service": "CSW",
            "version": "2.0.2",
            "request": "DescribeRecord",
            "typename": "gmd:MD_Metadata",
        },
        timeout=30,
    )
    assert response.status_code == 200
    assert b"DescribeRecordResponse" in response.content
    response = requests.get(
        catalogue.url,
        params={
            "service": "CSW",
            "version": "2.0.2",
            "request": "GetRecordById",
            "id": "S2A-STHLM-0601",
            "outputschema": GMD,
            "elementsetname": "full",
        },
        timeout=30,
    )
    root = etree.fromstring(response.content)
    metadata = root.find("gmd:MD_Metadata", NS)
    assert metadata is not None
    cloud = metadata.findtext(".//gmd:cloudCoverPercentage/gco:Real", namespaces=NS)
    assert float(cloud or "nan") == 5.0
    bands = metadata.findall(".//gmd:MD_Band//gco:aName/gco:CharacterString", NS)
    assert [band.text for band in bands][::2] == ["B04", "B08"]
    begin = metadata.findtext(".//gml:TimePeriod/gml:beginPosition", namespaces=NS)
    assert begin == "2024-06-01T10:00:00Z"
    keywords = {k.text for k in metadata.findall(".//gmd:keyword/gco:CharacterString", NS)}
    assert {"Sentinel-2A", "MSI", "S2MSI1C", "sentinel-2-l1c"} <= keywords
    assert metadata.findtext(
        ".//gmd:LI_Lineage/gmd:statement/gco:CharacterString", namespaces=NS
    ) == ("Ingested from S2A-STHLM-0601.SAFE")


# --- Store -> catalogue consistency -------------------------------------------------------
def test_reupsert_updates_without_duplicates_and_delete_removes(catalogue: Catalogue) -> None:
    csw = Csw2(catalogue.url)
    record = product(
        "S2A-KIRUNA-0801",
        title="Sentinel-2A over Kiruna",
        platform="Sentinel-2A",
        day=datetime(2024, 8, 1, 10, 0, tzinfo=UTC),
        cloud_cover=30.0,
        footprint=_square(20, 67),
        bbox=(20.0, 67.0, 21.0, 68.0),
    )
    catalogue.store.upsert(record)
    record.title = "Sentinel-2A over Kiruna (reprocessed)"
    record.cloud_cover = 3.0
    catalogue.store.upsert(record)
    csw.getrecords2([fes.PropertyIsLike("csw:AnyText", "%Kiruna%")], maxrecords=50)
    assert list(csw.records) == ["S2A-KIRUNA-0801"]
    assert csw.records["S2A-KIRUNA-0801"].title == "Sentinel-2A over Kiruna (reprocessed)"
    csw.getrecords2([fes.PropertyIsLessThan("apiso:CloudCover", "4")], maxrecords=50)
    assert "S2A-KIRUNA-0801" in csw.records

    catalogue.store.delete("S2A-KIRUNA-0801")
    csw.getrecords2([fes.PropertyIsLike("csw:AnyText", "%Kiruna%")], maxrecords=50)
    assert list(csw.records) == []
    assert csw.results["matches"] == 0
