"""WCS 2.0.1 checks runnable against any base URL (``base_url`` is the WCS endpoint).

Each check is ``check_x(base_url, session) -> (passed, reason)``; ``WCS_CHECKS`` lists
them for the runner. They discover a coverage from the capabilities, so they work on a
peer's server too. ``validate_xml`` validates a document offline against the OGC schemas
in ``$OGCSDL_SCHEMAS`` (default: the project's ``../shared/schemas``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import requests
from lxml import etree

from conformance.runner import register_endpoint_checks
from conformance.schemas import shared_schemas_dir

NS = {
    "wcs": "http://www.opengis.net/wcs/2.0",
    "ows": "http://www.opengis.net/ows/2.0",
    "gml": "http://www.opengis.net/gml/3.2",
    "wcseo": "http://www.opengis.net/wcs/wcseo/1.0",
}
Check = Callable[[str, requests.Session], tuple[bool, str]]
SCHEMAS_DIR = shared_schemas_dir()
_OGC = "http://schemas.opengis.net/"


_GMD_STUB = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    targetNamespace="http://www.isotc211.org/2005/gmd" elementFormDefault="qualified">
  <xs:element name="EX_Extent" type="xs:anyType"/>
  <xs:element name="CI_Citation" type="xs:anyType"/>
  <xs:element name="AbstractDQ_PositionalAccuracy" type="xs:anyType" abstract="true"/>
</xs:schema>"""


_EOP_STUB = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    targetNamespace="http://www.opengis.net/eop/2.0" elementFormDefault="qualified">
  <xs:element name="EarthObservation" type="xs:anyType"/>
  <xs:element name="Footprint" type="xs:anyType"/>
</xs:schema>"""


class _LocalSchemas(etree.Resolver):
    """Maps schemas.opengis.net and w3.org schema URLs onto the offline copies."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def resolve(self, url: str, pubid: str, context: object) -> object:
        candidates: list[Path] = []
        if url.endswith("/gmd/gmd.xsd"):
            # GML 3.2 references three ISO 19139 elements our documents never use; the ISO
            # schemas are not in the offline set, so a stub declares them.
            return self.resolve_string(_GMD_STUB, context)
        if url.endswith("/omeo/1.0.0/eop.xsd"):
            # EO-WCS imports EOP 2.0, which imports O&M 2.0 (not in the offline set). Our
            # documents give EO metadata by ows:Reference and use no eop element, so a
            # stub declares the two the EO-WCS schema refers to.
            return self.resolve_string(_EOP_STUB, context)
        if url.startswith(_OGC + "sweCommon/2.0/"):
            url = _OGC + "swe/2.0/" + url[len(_OGC + "sweCommon/2.0/") :]
        if url.endswith(("/xlink.xsd", "/xlinks.xsd")):
            # One xlink schema for all (the old OGC xlinks.xsd lacks simpleAttrs).
            candidates = [self.root / "common" / "w3c" / "1999" / "xlink.xsd"]
        elif url.startswith(_OGC):
            rest = url[len(_OGC) :]
            candidates = [
                self.root / "wcs20" / rest,
                self.root / "common" / rest,
                self.root / "wmts10" / "ogc" / rest,
            ]
        elif url.startswith("http://www.w3.org/"):
            rest = url[len("http://www.w3.org/") :]
            candidates = [self.root / "common" / "w3c" / rest]
        for path in candidates:
            if path.exists():
                return self.resolve_filename(str(path), context)
        return None


@lru_cache(maxsize=8)
def _schema(url: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_LocalSchemas(SCHEMAS_DIR))
    root = etree.parse(url, parser)
    return etree.XMLSchema(root)


def validate_xml(document: bytes, schema_url: str) -> tuple[bool, str]:
    """Validate against e.g. ``http://schemas.opengis.net/wcs/2.0/wcsAll.xsd`` offline."""
    schema = _schema(schema_url)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    tree = etree.fromstring(document, parser)
    if schema.validate(tree):
        return True, "valid"
    return False, str(schema.error_log.last_error)


def _get(base_url: str, session: requests.Session, **params: str) -> requests.Response:
    return session.get(
        base_url, params={"SERVICE": "WCS", "VERSION": "2.0.1", **params}, timeout=60
    )


def _exception_code(response: requests.Response) -> str | None:
    try:
        root = etree.fromstring(
            response.content, etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError:
        return None
    node = root.find("ows:Exception", NS)
    return node.get("exceptionCode") if node is not None else None


def first_coverage(base_url: str, session: requests.Session) -> tuple[str, list[str], list[float]]:
    """(coverage id, axis labels, [low0, low1, high0, high1]) of the first coverage that
    describes itself with a 2-D envelope (time-series coverages have a third axis)."""
    caps = _get(base_url, session, REQUEST="GetCapabilities")
    root = etree.fromstring(caps.content, etree.XMLParser(resolve_entities=False, no_network=True))
    coverage_ids = [
        node.text for node in root.findall(".//wcs:CoverageSummary/wcs:CoverageId", NS) if node.text
    ]
    if not coverage_ids:
        raise LookupError("the capabilities list no coverage")
    for coverage_id in coverage_ids:
        described = _get(base_url, session, REQUEST="DescribeCoverage", COVERAGEID=coverage_id)
        if described.status_code != 200:
            continue
        desc = etree.fromstring(
            described.content, etree.XMLParser(resolve_entities=False, no_network=True)
        )
        envelope = desc.find(".//gml:boundedBy/gml:Envelope", NS)
        if envelope is None:
            continue
        labels = (envelope.get("axisLabels") or "").split()
        if len(labels) != 2:
            continue
        lower = (envelope.findtext("gml:lowerCorner", namespaces=NS) or "").split()
        upper = (envelope.findtext("gml:upperCorner", namespaces=NS) or "").split()
        return coverage_id, labels, [float(v) for v in lower[:2] + upper[:2]]
    raise LookupError("no coverage describes itself with a 2-D gml:Envelope")


def _expect(response: requests.Response, code: str, status: int) -> tuple[bool, str]:
    got = _exception_code(response)
    if got == code and response.status_code == status:
        return True, f"{code} / {status}"
    return False, f"expected {code} / {status}, got {got} / {response.status_code}"


def check_capabilities_valid(base_url: str, session: requests.Session) -> tuple[bool, str]:
    response = _get(base_url, session, REQUEST="GetCapabilities")
    if response.status_code != 200:
        return False, f"GetCapabilities answered {response.status_code}"
    return validate_xml(response.content, _OGC + "wcs/2.0/wcsAll.xsd")


def check_describe_valid(base_url: str, session: requests.Session) -> tuple[bool, str]:
    coverage_id, _, _ = first_coverage(base_url, session)
    response = _get(base_url, session, REQUEST="DescribeCoverage", COVERAGEID=coverage_id)
    if response.status_code != 200:
        return False, f"DescribeCoverage answered {response.status_code}"
    return validate_xml(response.content, _OGC + "wcs/2.0/wcsAll.xsd")


def check_no_such_coverage(base_url: str, session: requests.Session) -> tuple[bool, str]:
    response = _get(base_url, session, REQUEST="DescribeCoverage", COVERAGEID="no-such-coverage")
    return _expect(response, "NoSuchCoverage", 404)


def check_invalid_axis_label(base_url: str, session: requests.Session) -> tuple[bool, str]:
    coverage_id, _, _ = first_coverage(base_url, session)
    response = _get(
        base_url, session, REQUEST="GetCoverage", COVERAGEID=coverage_id, SUBSET="NoSuchAxis(0,1)"
    )
    return _expect(response, "InvalidAxisLabel", 404)


def check_subset_outside_extent(base_url: str, session: requests.Session) -> tuple[bool, str]:
    coverage_id, labels, corners = first_coverage(base_url, session)
    far = corners[2] + 10 * (corners[2] - corners[0]) + 1
    response = _get(
        base_url,
        session,
        REQUEST="GetCoverage",
        COVERAGEID=coverage_id,
        SUBSET=f"{labels[0]}({far},{far + 1})",
    )
    return _expect(response, "InvalidSubsetting", 404)


def check_subset_low_above_high(base_url: str, session: requests.Session) -> tuple[bool, str]:
    coverage_id, labels, corners = first_coverage(base_url, session)
    response = _get(
        base_url,
        session,
        REQUEST="GetCoverage",
        COVERAGEID=coverage_id,
        SUBSET=f"{labels[0]}({corners[2]},{corners[0]})",
    )
    return _expect(response, "InvalidSubsetting", 404)


def check_trim_returns_subset(base_url: str, session: requests.Session) -> tuple[bool, str]:
    """A trim on both axes to the lower-left quarter answers a GeoTIFF."""
    coverage_id, labels, c = first_coverage(base_url, session)
    mid = [(c[0] + c[2]) / 2, (c[1] + c[3]) / 2]
    response = session.get(
        base_url,
        params=[
            ("SERVICE", "WCS"),
            ("VERSION", "2.0.1"),
            ("REQUEST", "GetCoverage"),
            ("COVERAGEID", coverage_id),
            ("FORMAT", "image/tiff"),
            ("SUBSET", f"{labels[0]}({c[0]},{mid[0]})"),
            ("SUBSET", f"{labels[1]}({c[1]},{mid[1]})"),
        ],
        timeout=60,
    )
    if response.status_code != 200 or not response.content.startswith((b"II*\x00", b"MM\x00*")):
        return False, f"trim answered {response.status_code} {response.headers.get('Content-Type')}"
    return True, f"{len(response.content)} bytes of GeoTIFF"


def check_dataset_series(base_url: str, session: requests.Session) -> tuple[bool, str]:
    """EO-WCS: the first dataset series in the capabilities is described by a schema-valid
    DescribeEOCoverageSet listing its members; a time window before the series matches
    none; an unknown eoId is NoSuchDatasetSeriesOrCoverage (skipped when none exists)."""
    caps = _get(base_url, session, REQUEST="GetCapabilities")
    root = etree.fromstring(caps.content, etree.XMLParser(resolve_entities=False, no_network=True))
    summary = root.find(".//wcs:Extension/wcseo:DatasetSeriesSummary", NS)
    if summary is None:
        return True, "no dataset series (not applicable)"
    series_id = summary.findtext("wcseo:DatasetSeriesId", namespaces=NS) or ""
    described = _get(base_url, session, REQUEST="DescribeEOCoverageSet", EOID=series_id)
    if described.status_code != 200:
        return False, f"DescribeEOCoverageSet {series_id} answered {described.status_code}"
    valid, reason = validate_xml(described.content, _OGC + "wcs/wcseo/1.0/wcsEOAll.xsd")
    if not valid:
        return False, f"DescribeEOCoverageSet is not schema-valid: {reason}"
    doc = etree.fromstring(
        described.content, etree.XMLParser(resolve_entities=False, no_network=True)
    )
    members = doc.findall(".//wcs:CoverageDescription/wcs:CoverageId", NS)
    if not members or doc.get("numberMatched") in (None, "0"):
        return False, f"dataset series {series_id} lists no member coverage"
    before = _get(
        base_url,
        session,
        REQUEST="DescribeEOCoverageSet",
        EOID=series_id,
        SUBSET='phenomenonTime("1970-01-01T00:00:00Z","1970-01-02T00:00:00Z")',
    )
    if before.status_code != 200 or b'numberMatched="0"' not in before.content:
        return False, "a time window before the series still matched coverages"
    unknown = _get(base_url, session, REQUEST="DescribeEOCoverageSet", EOID="no-such-series-x")
    return _expect(unknown, "NoSuchDatasetSeriesOrCoverage", 404)


def check_unknown_request(base_url: str, session: requests.Session) -> tuple[bool, str]:
    response = _get(base_url, session, REQUEST="GetSomething")
    return _expect(response, "OperationNotSupported", 400)


WCS_CHECKS: list[Check] = [
    check_capabilities_valid,
    check_describe_valid,
    check_no_such_coverage,
    check_invalid_axis_label,
    check_subset_outside_extent,
    check_subset_low_above_high,
    check_trim_returns_subset,
    check_dataset_series,
    check_unknown_request,
]


# Registration with the suite's runner (``conformance/runner.py``): the runner passes the
# deployment's base URL; ours serves WCS at ``/wcs``. Add "conformance.wcs" to
# ``runner.CHECK_MODULES`` to run these with ``ogcsdl conformance``.
ENDPOINT = "/wcs"


# No coverage published yet (LookupError): nothing to check.
register_endpoint_checks("WCS 2.0.1", ENDPOINT, WCS_CHECKS, __name__, skip_on=(LookupError,))
