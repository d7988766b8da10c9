"""The catalogue's other doors, on SQLite and PostGIS (fixture ``catalogue``):
OpenSearch, OAI-PMH, GDAL's CSW driver, and OGC exceptions with 4xx for bad input."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests
from lxml import etree
from werkzeug.test import Client

from ogcsdl.harvest.opensearch import fill_template
from tests.catalogue_fixtures import (
    NS,
    SAMPLE_IDS,
    Catalogue,
    require_gdal_cli,
)
from tests.edge_support import behind_edge


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
    response = requests.get(catalogue.url, params=query, timeout=30)
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


def opensearch_answer(catalogue: Catalogue, **params: str) -> requests.Response:
    """A bare OpenSearch GetRecords, for answers that are not feeds (errors)."""
    query = {"mode": "opensearch", "service": "CSW", "version": "3.0.0", "request": "GetRecords"}
    return requests.get(catalogue.url, params={**query, **params}, timeout=30)


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
        timeout=30,
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


def test_opensearch_geojson_and_description(catalogue: Catalogue) -> None:
    response = requests.get(
        catalogue.url,
        params={
            "mode": "opensearch",
            "service": "CSW",
            "version": "3.0.0",
            "request": "GetCapabilities",
        },
        timeout=30,
    )
    description = etree.fromstring(response.content)
    urls = {url.get("type"): url.get("template", "") for url in description.iterfind("os:Url", NS)}
    for kind in ("application/atom+xml", "application/geo+json"):
        template = urls[kind]
        for parameter in (
            "{geo:box?}",
            "{time:start?}",
            "{time:end?}",
            "{eo:platform?}",
            "{eo:productType?}",
            "{eo:cloudCover?}",
            "{eo:orbitNumber?}",
            "{eo:modificationDate?}",
        ):
            assert parameter in template, (kind, parameter)
        assert "%%" not in template
    values = {"geo:box": "16.5,58.5,18.5,60.5", "eo:cloudCover": "[0,20]", "count": "10"}
    filled = fill_template(urls["application/geo+json"], values)
    answer = requests.get(filled, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "application/geo+json"
    collection = answer.json()
    assert collection["type"] == "FeatureCollection" and collection["totalResults"] == 1
    (feature,) = collection["features"]
    assert feature["id"] == "S2A-STHLM-0601"
    assert feature["properties"]["cloudCover"] == 5.0
    assert feature["properties"]["platform"] == "Sentinel-2A"
    assert feature["properties"]["date"] == "2024-06-01T10:00:00Z/2024-06-01T10:01:00Z"
    assert feature["geometry"]["coordinates"][0][:3] == [[17, 59], [18, 59], [18, 60]]
    enclosure = feature["properties"]["links"]["enclosure"][0]
    assert enclosure["href"].endswith("/data/S2A-STHLM-0601.tif")
    atom = requests.get(
        filled.replace("application/geo%2Bjson", "application/atom%2Bxml"), timeout=10
    )
    assert atom_ids(etree.fromstring(atom.content)) == {"S2A-STHLM-0601"}


def test_opensearch_eo_cloud_cover_values_and_intervals(catalogue: Catalogue) -> None:
    """Sample cloud covers: 5, 50, 12, none (SAR), 80."""

    def cloudy(value: str) -> set[str]:
        return atom_ids(opensearch(catalogue, **{"eo:cloudCover": value}))

    assert cloudy("50") == {"S2B-STHLM-0610"}
    assert cloudy("[0,20]") == {"S2A-STHLM-0601", "S2A-GBG-0715"}
    assert cloudy("[5,12[") == {"S2A-STHLM-0601"}
    assert cloudy("]5,50]") == {"S2A-GBG-0715", "S2B-STHLM-0610"}
    assert cloudy("[50") == {"S2B-STHLM-0610", "S2B-UMEA-1201"}
    assert cloudy("12]") == {"S2A-STHLM-0601", "S2A-GBG-0715"}
    assert cloudy("{5,80}") == {"S2A-STHLM-0601", "S2B-UMEA-1201"}
    both = opensearch(catalogue, bbox="16.5,58.5,18.5,60.5", **{"eo:cloudCover": "[0,20]"})
    assert atom_ids(both) == {"S2A-STHLM-0601"}
    # geo AND time AND an interval: pycsw's own And gets the interval's predicates (a
    # nested And was refused as "document not valid").
    every = opensearch(
        catalogue,
        bbox="16.5,58.5,18.5,60.5",
        time="2024-06-02/2024-06-30",
        **{"eo:cloudCover": "[40,60]"},
    )
    assert atom_ids(every) == {"S2B-STHLM-0610"}
    response = opensearch_answer(catalogue, **{"eo:cloudCover": "[0,abc]"})
    assert response.status_code == 400 and b"eo:cloudCover" in response.content


def test_opensearch_eo_modification_date_selects_by_last_change(catalogue: Catalogue) -> None:
    """What an incremental harvester asks: records changed since its last run."""

    def changed(value: str) -> set[str]:
        return atom_ids(opensearch(catalogue, **{"eo:modificationDate": value}))

    assert changed("[2000-01-01T00:00:00Z") == SAMPLE_IDS
    assert changed("[2999-01-01T00:00:00Z") == set()
    assert changed("[2000-01-01,2999-01-01]") == SAMPLE_IDS
    assert changed("2000-01-01]") == set()
    assert changed("[2000-01-01T02:00:00+02:00") == SAMPLE_IDS  # offsets read as UTC
    assert changed("[2999-01-01T02:00:00+02:00") == set()
    for bad in ("[yesterday", "[2024-02-30", "[2024-01-01T25:00:00Z"):
        response = opensearch_answer(catalogue, **{"eo:modificationDate": bad})
        assert response.status_code == 400, (bad, response.text)
        assert b"eo:modificationDate" in response.content


def test_oai_pmh(catalogue: Catalogue) -> None:
    identify = requests.get(
        catalogue.url, params={"mode": "oaipmh", "verb": "Identify"}, timeout=10
    )
    assert identify.status_code == 200
    assert etree.fromstring(identify.content).find("oai:Identify", NS) is not None
    listing = requests.get(
        catalogue.url,
        params={"mode": "oaipmh", "verb": "ListRecords", "metadataPrefix": "oai_dc"},
        timeout=30,
    )
    root = etree.fromstring(listing.content)
    listed = {node.text for node in root.iterfind(".//oai:header/oai:identifier", NS)}
    assert listed == SAMPLE_IDS
    identifiers = requests.get(
        catalogue.url,
        params={"mode": "oaipmh", "verb": "ListIdentifiers", "metadataPrefix": "oai_dc"},
        timeout=30,
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
        timeout=30,
    )
    assert b"Sentinel-2A L2A over Gothenburg" in record.content


def test_oai_list_metadata_formats_of_an_unknown_identifier_is_id_does_not_exist(
    catalogue: Catalogue,
) -> None:
    """OAI-PMH 2.0 section 4.4: pycsw ignored the identifier and listed every format.
    Through the gateway (in process) to the real pycsw."""
    gateway = Client(behind_edge(catalogue.settings, "/csw"))
    query = "mode=oaipmh&verb=ListMetadataFormats&identifier="
    unknown = gateway.get(f"/?{query}no-such-record")
    assert unknown.status_code == 200
    root = etree.fromstring(unknown.data)
    assert [e.get("code") for e in root.iterfind("oai:error", NS)] == ["idDoesNotExist"]
    assert root.find("oai:ListMetadataFormats", NS) is None
    assert root.find("oai:request", NS).get("identifier") == "no-such-record"
    known = etree.fromstring(gateway.get(f"/?{query}S2A-GBG-0715").data)
    assert known.find("oai:error", NS) is None
    prefixes = {e.text for e in known.iterfind(".//oai:metadataPrefix", NS)}
    assert {"oai_dc", "iso19139"} <= prefixes
    every = etree.fromstring(gateway.get("/?mode=oaipmh&verb=ListMetadataFormats").data)
    assert every.find("oai:ListMetadataFormats", NS) is not None


# --- GDAL's CSW driver ---------------------------------------------------------------------
def ogr_identifiers(catalogue: Catalogue, *args: str) -> set[str]:
    result = subprocess.run(
        [require_gdal_cli(), "-ro", "-q", f"CSW:{catalogue.url}", "records", *args],
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
        (
            {
                "service": "CSW",
                "version": "3.0.0",
                "request": "GetRecords",
                "typenames": "csw:Record",
                "time": "2024-13-45/2024-06-01",
            },
            "InvalidParameterValue",
        ),
        (
            {
                "service": "CSW",
                "version": "3.0.0",
                "request": "GetRecords",
                "typenames": "csw:Record",
                "bbox": "18,60,17,59",
            },
            "InvalidParameterValue",
        ),
        (
            {
                "service": "CSW",
                "version": "2.0.2",
                "request": "GetRecords",
                "typenames": "csw:Record",
                "elementsetname": "brief",
                "outputschema": "http://example.org/no-such-schema",
            },
            "InvalidParameterValue",
        ),
        (
            {
                "service": "CSW",
                "version": "2.0.2",
                "request": "GetRecords",
                "elementsetname": "brief",
                "typenames": "foo:Bar",
            },
            "InvalidParameterValue",
        ),
        (
            {
                "service": "CSW",
                "version": "2.0.2",
                "request": "GetRecords",
                "typenames": "csw:Record",
                "elementsetname": "enormous",
            },
            "InvalidParameterValue",
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
        "csw3-kvp-time",
        "csw3-kvp-bbox",
        "unknown-outputschema",
        "unknown-typename",
        "unknown-elementsetname",
    ],
)
def test_bad_requests_give_exception_reports(
    catalogue: Catalogue, params: dict[str, str], code: str | None
) -> None:
    response = requests.get(catalogue.url, params=params, timeout=30)
    assert 400 <= response.status_code < 500, response.text
    found, _ = _exception(response)
    if code is not None:
        assert found == code


def test_malformed_xml_post_gives_exception_report(catalogue: Catalogue) -> None:
    response = requests.post(
        catalogue.url,
        data=b"<csw:GetRecords xmlns:csw='http://www.opengis.net/cat/csw/2.0.2'><unclosed>",
        headers={"Content-Type": "application/xml"},
        timeout=30,
    )
    assert 400 <= response.status_code < 500
    _exception(response)


def test_config_parameter_cannot_redirect_pycsw(catalogue: Catalogue, tmp_path: Path) -> None:
    """Stock pycsw reads ``config=<path>`` from any query string; ours ignores it."""
    response = requests.get(
        catalogue.url,
        params={"service": "CSW", "request": "GetCapabilities", "config": str(tmp_path / "x.cfg")},
        timeout=30,
    )
    assert response.status_code == 200
    assert catalogue.settings.catalogue.title.encode() in response.content


def _csw3_bbox_post(
    catalogue: Catalogue, south: float, west: float, north: float, east: float
) -> etree._Element:
    body = f"""<csw30:GetRecords xmlns:csw30="http://www.opengis.net/cat/csw/3.0"
        xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2"
        service="CSW" version="3.0.0" maxRecords="50">
      <csw30:Query typeNames="csw30:Record">
        <csw30:ElementSetName>brief</csw30:ElementSetName>
        <csw30:Constraint version="2.0.0">
          <fes:Filter>
            <fes:BBOX>
              <fes:ValueReference>ows:BoundingBox</fes:ValueReference>
              <gml:Envelope srsName="urn:ogc:def:crs:EPSG::4326">
                <gml:lowerCorner>{south} {west}</gml:lowerCorner>
                <gml:upperCorner>{north} {east}</gml:upperCorner>
              </gml:Envelope>
            </fes:BBOX>
          </fes:Filter>
        </csw30:Constraint>
      </csw30:Query>
    </csw30:GetRecords>"""
    response = requests.post(
        catalogue.url, data=body.encode(), headers={"Content-Type": "application/xml"}, timeout=30
    )
    assert response.status_code == 200, response.text[:800]
    return etree.fromstring(response.content)


def test_csw3_post_bbox_filter(catalogue: Catalogue) -> None:
    """pycsw 2.6.2's own schema check refused every CSW 3.0 POST BBOX (upstream #796)."""
    ns = {"csw30": "http://www.opengis.net/cat/csw/3.0", "dc": "http://purl.org/dc/elements/1.1/"}
    around_gothenburg = _csw3_bbox_post(catalogue, 57.2, 11.2, 57.8, 11.8)
    found = {node.text for node in around_gothenburg.iterfind(".//dc:identifier", ns)}
    assert "S2A-GBG-0715" in found and "S1A-STHLM-0605" not in found
    nowhere = _csw3_bbox_post(catalogue, -10.0, -10.0, -9.0, -9.0)
    results = nowhere.find(".//csw30:SearchResults", ns)
    assert results is not None and results.get("numberOfRecordsMatched") == "0"


def test_search_boxes_keep_the_precision_the_client_sent(catalogue: Catalogue) -> None:
    """pycsw 2.6.2 rounded every search box to 0.01 degree (upstream #930): a box whose
    south edge lies 0.004 degree (~450 m) north of Gothenburg's footprint found it."""
    ns = {"dc": "http://purl.org/dc/elements/1.1/"}
    north_of_it = _csw3_bbox_post(catalogue, 58.004, 11.2, 58.5, 11.8)
    assert "S2A-GBG-0715" not in {n.text for n in north_of_it.iterfind(".//dc:identifier", ns)}
    overlapping = _csw3_bbox_post(catalogue, 57.996, 11.2, 58.5, 11.8)
    assert "S2A-GBG-0715" in {n.text for n in overlapping.iterfind(".//dc:identifier", ns)}
    assert "S2A-GBG-0715" not in atom_ids(opensearch(catalogue, bbox="11.2,58.004,11.8,58.5"))
    assert "S2A-GBG-0715" in atom_ids(opensearch(catalogue, bbox="11.2,57.996,11.8,58.5"))
