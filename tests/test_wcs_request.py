"""WCS 2.0.1 request parsing (KVP and XML) into typed requests, without a server."""

from __future__ import annotations

import pytest

from ogcsdl.coverages.axes import crs_axes, parse_crs_uri
from ogcsdl.coverages.errors import InvalidScaleFactor, InvalidSubsetting
from ogcsdl.coverages.request import (
    CapabilitiesRequest,
    GetCoverageRequest,
    Subset,
    parse_kvp,
    parse_xml,
)
from ogcsdl.errors import (
    MissingParameterValue,
    OperationNotSupported,
    VersionNegotiationFailed,
)


def _kvp(**params: str) -> list[tuple[str, str]]:
    return [("SERVICE", "WCS"), ("VERSION", "2.0.1"), *params.items()]


def test_getcoverage_kvp_is_parsed_into_a_typed_request() -> None:
    request = parse_kvp(
        [
            *_kvp(
                REQUEST="GetCoverage",
                COVERAGEID="c1",
                FORMAT="image/png",
                SCALESIZE="E(10),N(20)",
                RANGESUBSET="B04,B02:B03",
                SUBSETTINGCRS="http://www.opengis.net/def/crs/EPSG/0/4326",
            ),
            ("SUBSET", "Lat(59.1,59.2)"),
            ("subset", 'Long("16.5")'),
        ]
    )
    assert isinstance(request, GetCoverageRequest)
    assert request.subsets == (Subset("Lat", "59.1", "59.2"), Subset("Long", None, None, "16.5"))
    assert request.scaling is not None and request.scaling.per_axis == {
        "E": (10, 10),
        "N": (20, 20),
    }
    assert request.range_subset == ("B04", "B02:B03")
    assert request.format == "image/png"


@pytest.mark.parametrize(
    ("pairs", "error"),
    [
        (
            [("SERVICE", "WCS"), ("REQUEST", "GetCoverage"), ("COVERAGEID", "c")],
            MissingParameterValue,
        ),
        (_kvp(REQUEST="GetCoverage"), MissingParameterValue),
        (_kvp(REQUEST="Transaction"), OperationNotSupported),
        (_kvp(REQUEST="GetCoverage", COVERAGEID="c", SUBSET="E(1,2,3)"), InvalidSubsetting),
        (_kvp(REQUEST="GetCoverage", COVERAGEID="c", SUBSET="E[1]"), InvalidSubsetting),
        (_kvp(REQUEST="GetCoverage", COVERAGEID="c", SCALEFACTOR="-1"), InvalidScaleFactor),
        (
            [("SERVICE", "WCS"), ("REQUEST", "GetCapabilities"), ("ACCEPTVERSIONS", "1.0.0")],
            VersionNegotiationFailed,
        ),
    ],
)
def test_bad_kvp_raises_the_standard_error(pairs: list[tuple[str, str]], error: type) -> None:
    with pytest.raises(error):
        parse_kvp(pairs)


def test_xml_getcoverage_matches_kvp() -> None:
    body = b"""<wcs:GetCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0"
        xmlns:crs="http://www.opengis.net/wcs/crs/1.0"
        xmlns:rsub="http://www.opengis.net/wcs/range-subsetting/1.0"
        service="WCS" version="2.0.1">
      <wcs:Extension>
        <crs:subsettingCrs>http://www.opengis.net/def/crs/EPSG/0/32633</crs:subsettingCrs>
        <rsub:RangeSubset><rsub:RangeItem><rsub:RangeComponent>VV</rsub:RangeComponent>
        </rsub:RangeItem></rsub:RangeSubset>
      </wcs:Extension>
      <wcs:CoverageId>s1</wcs:CoverageId>
      <wcs:DimensionTrim><wcs:Dimension>E</wcs:Dimension><wcs:TrimLow>1</wcs:TrimLow>
      </wcs:DimensionTrim>
      <wcs:DimensionSlice><wcs:Dimension>N</wcs:Dimension><wcs:SlicePoint>5</wcs:SlicePoint>
      </wcs:DimensionSlice>
    </wcs:GetCoverage>"""
    request = parse_xml(body)
    assert isinstance(request, GetCoverageRequest)
    assert request.subsets == (Subset("E", "1", "*"), Subset("N", None, None, "5"))
    assert request.subsetting_crs == "http://www.opengis.net/def/crs/EPSG/0/32633"
    assert request.range_subset == ("VV",)


def test_xml_capabilities_and_malformed_xml() -> None:
    request = parse_xml(
        b'<wcs:GetCapabilities xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS"/>'
    )
    assert isinstance(request, CapabilitiesRequest)
    with pytest.raises(Exception, match="well-formed"):
        parse_xml(b"<wcs:GetCoverage")


def test_crs_axes_follow_the_crs_definition() -> None:
    assert crs_axes(4326).labels == ("Lat", "Long")
    assert crs_axes(3006).labels == ("N", "E") and crs_axes(3006).northing_first
    assert crs_axes(32633).labels == ("E", "N")
    assert parse_crs_uri("http://www.opengis.net/def/crs/EPSG/0/3006") == 3006
    assert parse_crs_uri("urn:ogc:def:crs:EPSG::4326") == 4326
    assert parse_crs_uri("file:///etc/passwd") is None
