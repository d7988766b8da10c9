"""WCS 2.0.1 requests parsed once into typed objects, from KVP or from XML (POST).

KVP follows OGC 09-147r3 (KVP binding) and the scaling / CRS / range-subsetting
extensions; XML follows the wcs:GetCoverage schema, parsed with entities and network off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from ogcsdl.coverages.eo import DescribeEOCoverageSetRequest, parse_describe_eo
from ogcsdl.coverages.errors import InvalidEncodingSyntax, InvalidScaleFactor, InvalidSubsetting
from ogcsdl.coverages.values import parse_number
from ogcsdl.errors import (
    InvalidParameterValue,
    MissingParameterValue,
    OperationNotSupported,
    VersionNegotiationFailed,
)

NS = {
    "wcs": "http://www.opengis.net/wcs/2.0",
    "ows": "http://www.opengis.net/ows/2.0",
    "scal": "http://www.opengis.net/wcs/scaling/1.0",
    "crs": "http://www.opengis.net/wcs/crs/1.0",
    "rsub": "http://www.opengis.net/wcs/range-subsetting/1.0",
    "wcseo": "http://www.opengis.net/wcs/wcseo/1.0",
}
FORMATS = {
    "image/tiff": "GTiff",
    "application/netcdf": "netCDF",
    "application/x-netcdf": "netCDF",
    "image/png": "PNG",
}
_SUBSET_RE = re.compile(r"^\s*([^(\s,]+)\s*(?:,\s*([^()]+?)\s*)?\(\s*([^()]*)\)\s*$")
_AXIS_VALUE_RE = re.compile(r"^\s*([^(\s]+)\s*\(\s*([^()]*)\)\s*$")


@dataclass(frozen=True)
class Subset:
    axis: str
    low: str | None  # raw values; trims have low/high, slices have point
    high: str | None = None
    point: str | None = None

    @property
    def is_slice(self) -> bool:
        return self.point is not None


@dataclass(frozen=True)
class Scaling:
    kind: Literal["factor", "axes_factor", "size", "extent"]
    factor: float | None = None
    per_axis: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class CapabilitiesRequest:
    sections: tuple[str, ...] = ()


@dataclass(frozen=True)
class DescribeRequest:
    coverage_ids: tuple[str, ...]


@dataclass(frozen=True)
class GetCoverageRequest:
    coverage_id: str
    subsets: tuple[Subset, ...] = ()
    format: str = "image/tiff"
    subsetting_crs: str | None = None
    output_crs: str | None = None
    scaling: Scaling | None = None
    range_subset: tuple[str, ...] = ()  # band names, intervals already expanded later


WcsRequest = (
    CapabilitiesRequest | DescribeRequest | GetCoverageRequest | DescribeEOCoverageSetRequest
)


def _subset_from_text(text: str) -> Subset:
    match = _SUBSET_RE.match(text)
    if not match:
        raise InvalidSubsetting(f"SUBSET {text!r} is not axis(low,high) or axis(point)", "subset")
    axis, _crs, body = match.group(1), match.group(2), match.group(3)
    parts = [part.strip().strip('"') for part in body.split(",")]
    if len(parts) == 1:
        return Subset(axis, None, None, point=parts[0])
    if len(parts) == 2:
        return Subset(axis, parts[0], parts[1])
    raise InvalidSubsetting(f"SUBSET {text!r} has more than two values", "subset")


def _axis_values(text: str, locator: str) -> dict[str, str]:
    """``E(2),N(3)`` -> {"E": "2", "N": "3"}."""
    values: dict[str, str] = {}
    for item in re.findall(r"[^,(]+\([^)]*\)", text):
        match = _AXIS_VALUE_RE.match(item.strip(" ,"))
        if not match:
            raise InvalidParameterValue(f"{locator}: cannot read {item!r}", locator)
        values[match.group(1)] = match.group(2)
    if not values:
        raise InvalidParameterValue(f"{locator}: expected axis(value),... got {text!r}", locator)
    return values


def _scaling_from_kvp(params: dict[str, list[str]]) -> Scaling | None:
    given = [
        key for key in ("scalefactor", "scaleaxes", "scalesize", "scaleextent") if key in params
    ]
    if not given:
        return None
    if len(given) > 1:
        raise InvalidParameterValue("use only one of SCALEFACTOR/SCALEAXES/SCALESIZE/SCALEEXTENT")
    key = given[0]
    text = params[key][0]
    if key == "scalefactor":
        factor = parse_number(text, "SCALEFACTOR", InvalidScaleFactor)
        if factor <= 0:
            raise InvalidScaleFactor("SCALEFACTOR must be > 0", "SCALEFACTOR")
        return Scaling("factor", factor=factor)
    per_axis: dict[str, tuple[float, float]] = {}
    for axis, value in _axis_values(text, key.upper()).items():
        if key == "scaleextent":
            low, _, high = value.partition(":")
            per_axis[axis] = (parse_number(low, key), parse_number(high, key))
        else:
            number = parse_number(value, key.upper(), InvalidScaleFactor)
            if number <= 0:
                raise InvalidScaleFactor(f"{key.upper()} values must be > 0", key.upper())
            per_axis[axis] = (number, number)
    kind: Literal["axes_factor", "size", "extent"] = {
        "scaleaxes": "axes_factor",
        "scalesize": "size",
        "scaleextent": "extent",
    }[key]  # type: ignore[assignment]
    return Scaling(kind, per_axis=per_axis)


def _check_service(params: dict[str, list[str]], request: str) -> None:
    service = params.get("service", [""])[0]
    if service.upper() != "WCS":
        raise MissingParameterValue("SERVICE=WCS is required", "service")
    if request.lower() == "getcapabilities":
        versions = params.get("acceptversions", params.get("version", ["2.0.1"]))[0].split(",")
        if not any(v.strip() in ("2.0.1", "2.0.0") for v in versions):
            raise VersionNegotiationFailed("this service speaks WCS 2.0.1", "acceptversions")
        return
    version = params.get("version", [""])[0]
    if not version:
        raise MissingParameterValue("VERSION=2.0.1 is required", "version")
    if version not in ("2.0.1", "2.0.0"):
        raise InvalidParameterValue(f"version {version!r} is not supported; use 2.0.1", "version")


def parse_kvp(pairs: list[tuple[str, str]]) -> WcsRequest:
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        params.setdefault(key.lower(), []).append(value)
    request = params.get("request", [""])[0]
    if not request:
        raise MissingParameterValue("REQUEST is required", "request")
    _check_service(params, request)
    name = request.lower()
    if name == "getcapabilities":
        sections = tuple(s for s in params.get("sections", [""])[0].split(",") if s)
        return CapabilitiesRequest(sections)
    if name == "describecoverage":
        ids = tuple(i for i in params.get("coverageid", [""])[0].split(",") if i)
        if not ids:
            raise MissingParameterValue("COVERAGEID is required", "coverageId")
        return DescribeRequest(ids)
    if name == "getcoverage":
        coverage_id = params.get("coverageid", [""])[0]
        if not coverage_id:
            raise MissingParameterValue("COVERAGEID is required", "coverageId")
        subsets = tuple(_subset_from_text(text) for text in params.get("subset", []))
        return GetCoverageRequest(
            coverage_id=coverage_id,
            subsets=subsets,
            format=params.get("format", ["image/tiff"])[0],
            subsetting_crs=params.get("subsettingcrs", [None])[0],
            output_crs=params.get("outputcrs", [None])[0],
            scaling=_scaling_from_kvp(params),
            range_subset=tuple(
                item.strip() for item in params.get("rangesubset", [""])[0].split(",") if item
            ),
        )
    if name == "describeeocoverageset":
        trims = []
        for text in params.get("subset", []):
            subset = _subset_from_text(text)
            low, high = (
                (subset.point, subset.point) if subset.is_slice else (subset.low, subset.high)
            )
            trims.append((subset.axis, low or "", high or ""))
        return parse_describe_eo(params, trims)
    raise OperationNotSupported(f"request {request!r} is not supported", "request")


def _text(node: etree._Element, path: str) -> str | None:
    found = node.find(path, NS)
    return found.text.strip() if found is not None and found.text else None


def parse_xml(body: bytes) -> WcsRequest:
    """An XML-encoded request (POST), parsed without entities or network access."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidEncodingSyntax(f"request body is not well-formed XML: {exc}") from None
    tag = etree.QName(root).localname
    if tag == "DescribeEOCoverageSet" and etree.QName(root).namespace == NS["wcseo"]:
        return _describe_eo_from_xml(root)
    if etree.QName(root).namespace != NS["wcs"]:
        raise InvalidEncodingSyntax("root element must be in the WCS 2.0 namespace")
    pairs: list[tuple[str, str]] = [("service", root.get("service", "WCS")), ("request", tag)]
    if tag == "GetCapabilities":
        versions = [v.text or "" for v in root.findall("ows:AcceptVersions/ows:Version", NS)]
        if versions:
            pairs.append(("acceptversions", ",".join(versions)))
        return parse_kvp(pairs)
    pairs.append(("version", root.get("version", "")))
    if tag == "DescribeCoverage":
        ids = [node.text or "" for node in root.findall("wcs:CoverageId", NS)]
        pairs.append(("coverageid", ",".join(ids)))
        return parse_kvp(pairs)
    if tag != "GetCoverage":
        raise OperationNotSupported(f"request {tag!r} is not supported", "request")
    pairs.append(("coverageid", _text(root, "wcs:CoverageId") or ""))
    fmt = _text(root, "wcs:format")
    if fmt:
        pairs.append(("format", fmt))
    for trim in root.findall("wcs:DimensionTrim", NS):
        axis = _text(trim, "wcs:Dimension") or ""
        low, high = _text(trim, "wcs:TrimLow"), _text(trim, "wcs:TrimHigh")
        pairs.append(("subset", f"{axis}({low if low else '*'},{high if high else '*'})"))
    for cut in root.findall("wcs:DimensionSlice", NS):
        pairs.append(("subset", f"{_text(cut, 'wcs:Dimension')}({_text(cut, 'wcs:SlicePoint')})"))
    for crs_key in ("subsettingCrs", "outputCrs"):
        value = _text(root, f".//crs:{crs_key}")
        if value:
            pairs.append((crs_key.lower(), value))
    factor = _text(root, ".//scal:ScaleByFactor/scal:scaleFactor")
    if factor:
        pairs.append(("scalefactor", factor))
    sizes = root.findall(".//scal:ScaleToSize/scal:TargetAxisSize", NS)
    if sizes:
        pairs.append(
            (
                "scalesize",
                ",".join(f"{_text(s, 'scal:axis')}({_text(s, 'scal:targetSize')})" for s in sizes),
            )
        )
    extents = root.findall(".//scal:ScaleToExtent/scal:TargetAxisExtent", NS)
    if extents:
        pairs.append(
            (
                "scaleextent",
                ",".join(
                    f"{_text(e, 'scal:axis')}({_text(e, 'scal:low')}:{_text(e, 'scal:high')})"
                    for e in extents
                ),
            )
        )
    bands = [node.text or "" for node in root.iterfind(".//rsub:RangeComponent", NS)]
    if bands:
        pairs.append(("rangesubset", ",".join(bands)))
    return parse_kvp(pairs)


def _describe_eo_from_xml(root: etree._Element) -> WcsRequest:
    pairs: list[tuple[str, str]] = [
        ("service", root.get("service", "WCS")),
        ("request", "DescribeEOCoverageSet"),
        ("version", root.get("version", "")),
        ("eoid", ",".join(node.text or "" for node in root.findall("wcseo:eoId", NS))),
    ]
    containment = _text(root, "wcseo:containment")
    if containment:
        pairs.append(("containment", containment))
    sections = [node.text or "" for node in root.findall("wcseo:Sections/wcseo:Section", NS)]
    if sections:
        pairs.append(("sections", ",".join(sections)))
    if root.get("count") is not None:
        pairs.append(("count", root.get("count", "")))
    for trim in root.findall("wcs:DimensionTrim", NS):
        axis = _text(trim, "wcs:Dimension") or ""
        pairs.append(
            ("subset", f"{axis}({_text(trim, 'wcs:TrimLow')},{_text(trim, 'wcs:TrimHigh')})")
        )
    return parse_kvp(pairs)
