"""CSW 2.0.2 and 3.0 checks against ``<base>/csw``.

Responses are validated against the official XSDs (pycsw's offline copies); record
checks use the target's own first record, so they run on any catalogue.
"""

from __future__ import annotations

import requests
from lxml import etree

from conformance.runner import CheckFailure, CheckResult, check
from conformance.xmlcheck import NS, expect_root, parse, validate

CSW_PATH = "csw"
GMD = NS["gmd"]


def endpoint(base_url: str) -> str:
    return f"{base_url}/{CSW_PATH}"


def _get(session: requests.Session, base_url: str, **params: str) -> requests.Response:
    return session.get(endpoint(base_url), params=params)


def _expect_ok(response: requests.Response) -> etree._Element:
    root = parse(response)
    if response.status_code != 200 or etree.QName(root).localname == "ExceptionReport":
        text = " ".join(" ".join(root.itertext()).split())
        raise CheckFailure(
            f"HTTP {response.status_code} {etree.QName(root).localname}: {text[:160]}"
        )
    return root


def _get_records(
    session: requests.Session, base_url: str, version: str, **extra: str
) -> etree._Element:
    params = {
        "service": "CSW",
        "version": version,
        "request": "GetRecords",
        "typenames": "csw:Record",
        "elementsetname": "full",
        "resulttype": "results",
        "maxrecords": "5",
        **extra,
    }
    return _expect_ok(_get(session, base_url, **params))


def first_record(session: requests.Session, base_url: str) -> tuple[str, list[float]] | None:
    """(identifier, [minx, miny, maxx, maxy]) of the first record with a bbox."""
    root = _get_records(session, base_url, "2.0.2", maxrecords="20")
    for record in root.iterfind(".//csw:Record", NS):
        identifier = record.findtext("dc:identifier", namespaces=NS)
        lower = record.findtext("ows:BoundingBox/ows:LowerCorner", namespaces=NS)
        upper = record.findtext("ows:BoundingBox/ows:UpperCorner", namespaces=NS)
        if identifier and lower and upper:
            # CSW 2.0.2 DC records from pycsw are EPSG:4326 in lat/lon order.
            lat0, lon0 = (float(v) for v in lower.split())
            lat1, lon1 = (float(v) for v in upper.split())
            return identifier, [lon0, lat0, lon1, lat1]
    return None


@check("CSW 2.0.2", "GetCapabilities valid, advertises this URL")
def capabilities_202(base_url: str, session: requests.Session) -> CheckResult:
    root = _expect_ok(
        _get(session, base_url, service="CSW", version="2.0.2", request="GetCapabilities")
    )
    expect_root(root, "csw", "Capabilities")
    validate(root, "csw202")
    hrefs = {
        node.get(f"{{{NS['xlink']}}}href", "")
        for node in root.iterfind(
            ".//ows:Operation[@name='GetRecords']/ows:DCP/ows:HTTP/ows:Get", NS
        )
    }
    wanted = endpoint(base_url)
    if not any(href.rstrip("/?") == wanted.rstrip("/?") for href in hrefs):
        return CheckResult.failed(
            f"GetRecords advertised at {sorted(hrefs)}, clients reach {wanted}"
        )
    return CheckResult.ok()


@check("CSW 2.0.2", "DescribeRecord valid")
def describe_record_202(base_url: str, session: requests.Session) -> CheckResult:
    root = _expect_ok(
        _get(
            session,
            base_url,
            service="CSW",
            version="2.0.2",
            request="DescribeRecord",
            typename="csw:Record",
        )
    )
    expect_root(root, "csw", "DescribeRecordResponse")
    validate(root, "csw202")
    return CheckResult.ok()


@check("CSW 2.0.2", "GetRecords (Dublin Core) valid")
def get_records_202(base_url: str, session: requests.Session) -> CheckResult:
    root = _get_records(session, base_url, "2.0.2")
    expect_root(root, "csw", "GetRecordsResponse")
    validate(root, "csw202")
    results = root.find("csw:SearchResults", NS)
    if results is None:
        return CheckResult.failed("no csw:SearchResults")
    matched = int(results.get("numberOfRecordsMatched", "-1"))
    returned = int(results.get("numberOfRecordsReturned", "-1"))
    if not 0 <= returned <= matched or returned != len(results):
        return CheckResult.failed(f"inconsistent counts: matched={matched} returned={returned}")
    return CheckResult.ok(f"{matched} records")


@check("CSW 2.0.2", "GetRecords BBOX finds a record in its own box")
def bbox_202(base_url: str, session: requests.Session) -> CheckResult:
    found = first_record(session, base_url)
    if found is None:
        return CheckResult.skipped("the catalogue has no records with a bounding box")
    identifier, (minx, miny, maxx, maxy) = found
    request = _BBOX_REQUEST.format(minx=minx, miny=miny, maxx=maxx, maxy=maxy)
    response = session.post(
        endpoint(base_url), data=request.encode(), headers={"Content-Type": "application/xml"}
    )
    root = _expect_ok(response)
    validate(root, "csw202")
    ids = {node.text for node in root.iterfind(".//dc:identifier", NS)}
    if identifier not in ids:
        return CheckResult.failed(f"{identifier} not returned for BBOX {minx},{miny},{maxx},{maxy}")
    return CheckResult.ok()


_BBOX_REQUEST = """<?xml version="1.0" encoding="UTF-8"?>
<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2"
    xmlns:ogc="http://www.opengis.net/ogc" xmlns:gml="http://www.opengis.net/gml"
    service="CSW" version="2.0.2" resultType="results" maxRecords="100">
  <csw:Query typeNames="csw:Record">
    <csw:ElementSetName>brief</csw:ElementSetName>
    <csw:Constraint version="1.1.0">
      <ogc:Filter>
        <ogc:BBOX>
          <ogc:PropertyName>ows:BoundingBox</ogc:PropertyName>
          <gml:Envelope srsName="urn:ogc:def:crs:OGC:1.3:CRS84">
            <gml:lowerCorner>{minx} {miny}</gml:lowerCorner>
            <gml:upperCorner>{maxx} {maxy}</gml:upperCorner>
          </gml:Envelope>
        </ogc:BBOX>
      </ogc:Filter>
    </csw:Constraint>
  </csw:Query>
</csw:GetRecords>
"""


@check("CSW 2.0.2", "GetRecordById returns the record")
def get_record_by_id_202(base_url: str, session: requests.Session) -> CheckResult:
    found = first_record(session, base_url)
    if found is None:
        return CheckResult.skipped("the catalogue has no records")
    identifier = found[0]
    root = _expect_ok(
        _get(
            session,
            base_url,
            service="CSW",
            version="2.0.2",
            request="GetRecordById",
            id=identifier,
            elementsetname="full",
        )
    )
    expect_root(root, "csw", "GetRecordByIdResponse")
    validate(root, "csw202")
    if root.findtext(".//dc:identifier", namespaces=NS) != identifier:
        return CheckResult.failed(f"{identifier} not in the response")
    return CheckResult.ok()


@check("CSW 2.0.2 / ISO AP", "GetRecordById outputSchema=gmd is valid ISO 19139")
def iso_record(base_url: str, session: requests.Session) -> CheckResult:
    found = first_record(session, base_url)
    if found is None:
        return CheckResult.skipped("the catalogue has no records")
    identifier = found[0]
    root = _expect_ok(
        _get(
            session,
            base_url,
            service="CSW",
            version="2.0.2",
            request="GetRecordById",
            id=identifier,
            outputschema=GMD,
            elementsetname="full",
        )
    )
    metadata = root.find("gmd:MD_Metadata", NS)
    if metadata is None:
        return CheckResult.failed("no gmd:MD_Metadata in the response")
    validate(metadata, "gmd")
    if metadata.findtext("gmd:fileIdentifier/gco:CharacterString", namespaces=NS) != identifier:
        return CheckResult.failed("gmd:fileIdentifier differs from the requested id")
    return CheckResult.ok()


@check("CSW 2.0.2", "Bad request -> ExceptionReport, 4xx")
def exception_202(base_url: str, session: requests.Session) -> CheckResult:
    response = _get(session, base_url, service="CSW", version="2.0.2", request="NoSuchRequest")
    root = parse(response)
    expect_root(root, "ows", "ExceptionReport")
    validate(root, "ows100-exception")
    if not 400 <= response.status_code < 500:
        return CheckResult.failed(f"HTTP {response.status_code} for an ExceptionReport")
    return CheckResult.ok()


@check("CSW 3.0", "GetCapabilities valid")
def capabilities_30(base_url: str, session: requests.Session) -> CheckResult:
    root = _expect_ok(
        _get(session, base_url, service="CSW", version="3.0.0", request="GetCapabilities")
    )
    expect_root(root, "csw30", "Capabilities")
    validate(root, "csw30")
    return CheckResult.ok()


@check("CSW 3.0", "GetRecords valid")
def get_records_30(base_url: str, session: requests.Session) -> CheckResult:
    root = _get_records(session, base_url, "3.0.0")
    expect_root(root, "csw30", "GetRecordsResponse")
    validate(root, "csw30")
    return CheckResult.ok()


@check("CSW 3.0", "Unknown id -> NotFound ExceptionReport, 404")
def not_found_30(base_url: str, session: requests.Session) -> CheckResult:
    response = _get(
        session,
        base_url,
        service="CSW",
        version="3.0.0",
        request="GetRecordById",
        id="ogcsdl-conformance-no-such-record",
    )
    root = parse(response)
    expect_root(root, "ows20", "ExceptionReport")
    validate(root, "ows200-exception")
    code = root.find("ows20:Exception", NS)
    if code is None or code.get("exceptionCode") != "NotFound" or response.status_code != 404:
        found = None if code is None else code.get("exceptionCode")
        return CheckResult.failed(f"HTTP {response.status_code}, exceptionCode {found}")
    return CheckResult.ok()
