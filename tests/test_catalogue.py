"""The catalogue (pycsw) over products written through the product store, on SQLite and
on a real PostGIS: CSW 2.0.2 + 3.0 with OWSLib, GDAL's CSW driver, OpenSearch, OAI-PMH,
ISO 19139 output, and OGC exceptions for bad input.

pycsw runs here as the supervisor runs it (``catalogue_child``), but advertising its own
loopback URL; tests through the gateway are in ``test_catalogue_live.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import yaml
from lxml import etree
from owslib import fes, fes2
from owslib.catalogue.csw2 import CatalogueServiceWeb as Csw2
from owslib.catalogue.csw3 import CatalogueServiceWeb as Csw3

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import Band, ProductRecord
from ogcsdl.catalogue.service import catalogue_child
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import PROJECT_ROOT, Settings, load_settings

CATALOGUE_PYTHON = PROJECT_ROOT / ".venv-catalogue" / "bin" / "python"
GMD = "http://www.isotc211.org/2005/gmd"
NS = {
    "csw": "http://www.opengis.net/cat/csw/2.0.2",
    "csw30": "http://www.opengis.net/cat/csw/3.0",
    "dc": "http://purl.org/dc/elements/1.1/",
    "gmd": GMD,
    "gco": "http://www.isotc211.org/2005/gco",
    "gml": "http://www.opengis.net/gml",
    "ows": "http://www.opengis.net/ows",
    "ows20": "http://www.opengis.net/ows/2.0",
    "atom": "http://www.w3.org/2005/Atom",
    "os": "http://a9.com/-/spec/opensearch/1.1/",
    "oai": "http://www.openarchives.org/OAI/2.0/",
}
CRS84 = "urn:ogc:def:crs:OGC:1.3:CRS84"


def _square(lon: float, lat: float) -> str:
    return f"POLYGON(({lon} {lat},{lon + 1} {lat},{lon + 1} {lat + 1},{lon} {lat + 1},{lon} {lat}))"


def product(
    identifier: str,
    *,
    title: str,
    platform: str,
    day: datetime,
    cloud_cover: float | None,
    footprint: str,
    bbox: tuple[float, float, float, float],
    collection: str = "sentinel-2-l1c",
    instrument: str = "MSI",
    sensor_type: str = "OPTICAL",
    product_type: str = "S2MSI1C",
    level: str = "Level-1C",
) -> ProductRecord:
    return ProductRecord(
        identifier=identifier,
        title=title,
        collection=collection,
        start=day,
        end=day.replace(minute=day.minute + 1),
        footprint_wkt=footprint,
        bbox=bbox,
        crs="EPSG:32633",
        resolution=(10.0, 10.0),
        width=256,
        height=256,
        bands=[Band("B04", "Red", 0.665), Band("B08", "NIR", 0.842)],
        file_path=f"/data/cogs/{identifier}.tif",
        file_size=1234,
        platform=platform,
        instrument=instrument,
        sensor_type=sensor_type,
        product_type=product_type,
        processing_level=level,
        cloud_cover=cloud_cover,
        lineage=f"Ingested from {identifier}.SAFE",
        keywords=["test"],
    )


def sample_products() -> list[ProductRecord]:
    """Five products over Sweden. S2-A's footprint is only the lower-right triangle of
    its bbox (valid data), so a box in the upper-left corner must not find it."""
    return [
        product(
            "S2A-STHLM-0601",
            title="Sentinel-2A L1C over Stockholm",
            platform="Sentinel-2A",
            day=datetime(2024, 6, 1, 10, 0, tzinfo=UTC),
            cloud_cover=5.0,
            footprint="POLYGON((17 59,18 59,18 60,17 59))",
            bbox=(17.0, 59.0, 18.0, 60.0),
        ),
        product(
            "S2B-STHLM-0610",
            title="Sentinel-2B L1C over Stockholm",
            platform="Sentinel-2B",
            day=datetime(2024, 6, 10, 10, 0, tzinfo=UTC),
            cloud_cover=50.0,
            footprint=_square(17, 59),
            bbox=(17.0, 59.0, 18.0, 60.0),
        ),
        product(
            "S2A-GBG-0715",
            title="Sentinel-2A L2A over Gothenburg",
            platform="Sentinel-2A",
            day=datetime(2024, 7, 15, 10, 30, tzinfo=UTC),
            cloud_cover=12.0,
            footprint=_square(11, 57),
            bbox=(11.0, 57.0, 12.0, 58.0),
            collection="sentinel-2-l2a",
            product_type="S2MSI2A",
            level="Level-2A",
        ),
        product(
            "S1A-STHLM-0605",
            title="Sentinel-1A GRD over Stockholm",
            platform="Sentinel-1A",
            day=datetime(2024, 6, 5, 5, 0, tzinfo=UTC),
            cloud_cover=None,
            footprint=_square(17, 59),
            bbox=(17.0, 59.0, 18.0, 60.0),
            collection="sentinel-1-grd",
            instrument="C-SAR",
            sensor_type="RADAR",
            product_type="GRD",
            level="Level-1",
        ),
        product(
            "S2B-UMEA-1201",
            title="Sentinel-2B L2A over Umea",
            platform="Sentinel-2B",
            day=datetime(2023, 12, 1, 10, 0, tzinfo=UTC),
            cloud_cover=80.0,
            footprint=_square(20, 63),
            bbox=(20.0, 63.0, 21.0, 64.0),
            collection="sentinel-2-l2a",
            product_type="S2MSI2A",
            level="Level-2A",
        ),
    ]


SAMPLE_IDS = {record.identifier for record in sample_products()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Catalogue:
    url: str  # pycsw's own URL, what it advertises
    settings: Settings
    store: ProductStore
    backend: str


def _require_catalogue_env() -> None:
    if not CATALOGUE_PYTHON.exists():
        pytest.skip(
            f"the pycsw environment is missing at {CATALOGUE_PYTHON} (run scripts/setup.sh)"
        )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
)
def catalogue(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Catalogue]:
    """pycsw under gunicorn on a free port, over the sample products."""
    _require_catalogue_env()
    port = free_port()
    overrides: dict[str, object] = {
        "data_dir": str(tmp_path_factory.mktemp(f"catalogue-{request.param}")),
        "catalogue": {"python": str(CATALOGUE_PYTHON), "port": port, "workers": 2},
    }
    if request.param == "postgis":
        overrides["database"] = {"url": request.getfixturevalue("postgis_url")}
    directory = Path(str(overrides["data_dir"]))
    config_file = directory / "ogcsdl.yml"
    config_file.write_text(yaml.safe_dump(overrides), encoding="utf-8")
    settings = load_settings(config_file)
    store = product_store(settings)
    for record in sample_products():
        store.upsert(record)
    url = f"http://127.0.0.1:{port}/"
    spec = catalogue_child(settings, server_url=url)
    process = subprocess.Popen(
        spec.argv,
        env={**os.environ, **spec.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_ready(spec.ready_url or url, process)
        yield Catalogue(url, settings, store, request.param)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"pycsw exited with {process.returncode}:\n{stderr[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"pycsw did not answer at {url}")


def ids_of(records: dict[str, object]) -> set[str]:
    return set(records) & SAMPLE_IDS


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
        timeout=10,
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
        timeout=10,
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
        timeout=10,
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
        timeout=10,
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


# --- OpenSearch and OAI-PMH ------------------------------------------------------------------
def opensearch(catalogue: Catalogue, **params: str) -> etree._Element:
    query = {
        "mode": "opensearch",
        "service": "CSW",
        "version": "3.0.0",
        "request": "GetRecords",
        "elementsetname": "full",
        "typenames": "csw:Record",
        "resulttype": "results",
        "maxrecords": "50",
        **params,
    }
    response = requests.get(catalogue.url, params=query, timeout=10)
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


def atom_ids(feed: etree._Element) -> set[str]:
    return {node.text or "" for node in feed.iterfind(".//dc:identifier", NS)} & SAMPLE_IDS


def test_opensearch_description_and_geo_time_eo_queries(catalogue: Catalogue) -> None:
    response = requests.get(
        catalogue.url,
        params={
            "mode": "opensearch",
            "service": "CSW",
            "version": "3.0.0",
            "request": "GetCapabilities",
        },
        timeout=10,
    )
    description = etree.fromstring(response.content)
    assert etree.QName(description).localname == "OpenSearchDescription"
    templates = [url.get("template", "") for url in description.iterfind("os:Url", NS)]
    assert templates and all(t.startswith(catalogue.url) for t in templates)
    assert any("{geo:box?}" in t and "{eo:platform?}" in t for t in templates)

    bbox_time = opensearch(catalogue, bbox="16.5,58.5,18.5,60.5", time="2024-06-02/2024-06-30")
    assert atom_ids(bbox_time) == {"S2B-STHLM-0610", "S1A-STHLM-0605"}
    # EO parameters without geo/time: our WSGI adds the empty q pycsw 2.6 needs.
    assert atom_ids(opensearch(catalogue, **{"eo:platform": "Sentinel-2B"})) == {
        "S2B-STHLM-0610",
        "S2B-UMEA-1201",
    }
    assert atom_ids(opensearch(catalogue, q="", **{"eo:productType": "S2MSI2A"})) == {
        "S2A-GBG-0715",
        "S2B-UMEA-1201",
    }
    assert atom_ids(opensearch(catalogue, q="Gothenburg")) == {"S2A-GBG-0715"}


def test_oai_pmh(catalogue: Catalogue) -> None:
    identify = requests.get(
        catalogue.url, params={"mode": "oaipmh", "verb": "Identify"}, timeout=10
    )
    assert identify.status_code == 200
    assert etree.fromstring(identify.content).find("oai:Identify", NS) is not None
    listing = requests.get(
        catalogue.url,
        params={"mode": "oaipmh", "verb": "ListRecords", "metadataPrefix": "oai_dc"},
        timeout=10,
    )
    root = etree.fromstring(listing.content)
    listed = {node.text for node in root.iterfind(".//oai:header/oai:identifier", NS)}
    assert listed == SAMPLE_IDS
    identifiers = requests.get(
        catalogue.url,
        params={"mode": "oaipmh", "verb": "ListIdentifiers", "metadataPrefix": "oai_dc"},
        timeout=10,
    )
    listing = etree.fromstring(identifiers.content).find("oai:ListIdentifiers", NS)
    assert listing is not None, identifiers.text
    headers = listing.findall("oai:header", NS)
    assert sorted(h.findtext("oai:identifier", namespaces=NS) for h in headers) == sorted(
        SAMPLE_IDS
    )
    record = requests.get(
        catalogue.url,
        params={
            "mode": "oaipmh",
            "verb": "GetRecord",
            "identifier": "S2A-GBG-0715",
            "metadataPrefix": "iso19139",
        },
        timeout=10,
    )
    assert b"Sentinel-2A L2A over Gothenburg" in record.content


# --- GDAL's CSW driver ---------------------------------------------------------------------
def ogr_identifiers(catalogue: Catalogue, *args: str) -> set[str]:
    result = subprocess.run(
        ["ogrinfo", "-ro", "-q", f"CSW:{catalogue.url}", "records", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "GDAL_HTTP_TIMEOUT": "20"},
    )
    assert result.returncode == 0, result.stderr
    found = set()
    for line in result.stdout.splitlines():
        key, _, value = line.strip().partition(" = ")
        if key.startswith("identifier ("):
            found.add(value.strip())
    return found & SAMPLE_IDS


def test_gdal_csw_driver_bbox_time_and_text(catalogue: Catalogue) -> None:
    assert ogr_identifiers(catalogue) == SAMPLE_IDS
    assert ogr_identifiers(catalogue, "-spat", "10.5", "56.5", "12.5", "58.5") == {"S2A-GBG-0715"}
    in_june = ogr_identifiers(catalogue, "-where", "date >= '2024-06-01' AND date < '2024-07-01'")
    assert in_june == {"S2A-STHLM-0601", "S2B-STHLM-0610", "S1A-STHLM-0605"}
    # Cloud cover is not a GDAL CSW field: the anytext of the ISO record carries it.
    radar = ogr_identifiers(catalogue, "-where", "anytext LIKE '%C-SAR%'")
    assert radar == {"S1A-STHLM-0605"}


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


# --- Bad input -> OGC ExceptionReport, 4xx ---------------------------------------------------
def _exception(response: requests.Response) -> tuple[str, str]:
    root = etree.fromstring(response.content)
    assert etree.QName(root).localname == "ExceptionReport", response.text
    node = root[0]
    return node.get("exceptionCode", ""), node.get("locator", "")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (
            {"service": "CSW", "version": "2.0.2", "request": "NoSuchOperation"},
            "InvalidParameterValue",
        ),
        ({"service": "CSW", "version": "2.0.2"}, "MissingParameterValue"),
        (
            {
                "service": "CSW",
                "version": "2.0.2",
                "request": "GetRecords",
                "typenames": "csw:Record",
                "resulttype": "results",
                "constraintlanguage": "CQL_TEXT",
                "constraint": "BBOX(ows:BoundingBox, not, a, box)",
            },
            None,
        ),
        (
            {
                "service": "CSW",
                "version": "2.0.2",
                "request": "GetRecords",
                "typenames": "csw:Record",
                "resulttype": "results",
                "constraintlanguage": "CQL_TEXT",
                "constraint": "apiso:NoSuchQueryable = 'x'",
            },
            None,
        ),
        (
            {"service": "CSW", "version": "3.0.0", "request": "GetRecordById", "id": "no-such-id"},
            "NotFound",
        ),
        (
            {
                "mode": "opensearch",
                "service": "CSW",
                "version": "3.0.0",
                "request": "GetRecords",
                "typenames": "csw:Record",
                "bbox": "500,100,600,200",
            },
            None,
        ),
        (
            {
                "mode": "opensearch",
                "service": "CSW",
                "version": "3.0.0",
                "request": "GetRecords",
                "typenames": "csw:Record",
                "time": "yesterday/never",
            },
            None,
        ),
    ],
    ids=[
        "unknown-request",
        "missing-request",
        "bad-bbox",
        "unknown-queryable",
        "unknown-id",
        "os-bbox",
        "os-time",
    ],
)
def test_bad_requests_give_exception_reports(
    catalogue: Catalogue, params: dict[str, str], code: str | None
) -> None:
    response = requests.get(catalogue.url, params=params, timeout=10)
    assert 400 <= response.status_code < 500, response.text
    found, _ = _exception(response)
    if code is not None:
        assert found == code


def test_malformed_xml_post_gives_exception_report(catalogue: Catalogue) -> None:
    response = requests.post(
        catalogue.url,
        data=b"<csw:GetRecords xmlns:csw='http://www.opengis.net/cat/csw/2.0.2'><unclosed>",
        headers={"Content-Type": "application/xml"},
        timeout=10,
    )
    assert 400 <= response.status_code < 500
    _exception(response)


def test_config_parameter_cannot_redirect_pycsw(catalogue: Catalogue, tmp_path: Path) -> None:
    """Stock pycsw reads ``config=<path>`` from any query string; ours ignores it."""
    response = requests.get(
        catalogue.url,
        params={"service": "CSW", "request": "GetCapabilities", "config": str(tmp_path / "x.cfg")},
        timeout=10,
    )
    assert response.status_code == 200
    assert catalogue.settings.catalogue.title.encode() in response.content
