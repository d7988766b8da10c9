"""WCS 2.0.1 XML documents: Capabilities and CoverageDescriptions (GML 3.2 / GMLCOV 1.0 /
SWE 2.0), built with lxml so every value is escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from lxml.builder import ElementMaker

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.coverages.coverage import Coverage
from ogcsdl.coverages.request import FORMATS
from ogcsdl.coverages.timeseries import TIME_AXIS, TIME_CRS, TimeSeries, unix_seconds

WCS = "http://www.opengis.net/wcs/2.0"
OWS = "http://www.opengis.net/ows/2.0"
GML = "http://www.opengis.net/gml/3.2"
GMLCOV = "http://www.opengis.net/gmlcov/1.0"
SWE = "http://www.opengis.net/swe/2.0"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {
    "wcs": WCS,
    "ows": OWS,
    "gml": GML,
    "gmlcov": GMLCOV,
    "swe": SWE,
    "xlink": XLINK,
    "xsi": XSI,
}
SCHEMA_ROOT = "http://schemas.opengis.net/wcs/2.0"
PROFILES = (
    "http://www.opengis.net/spec/WCS/2.0/conf/core",
    "http://www.opengis.net/spec/WCS_protocol-binding_get-kvp/1.0/conf/get-kvp",
    "http://www.opengis.net/spec/WCS_protocol-binding_post-xml/1.0/conf/post-xml",
    "http://www.opengis.net/spec/WCS_service-extension_crs/1.0/conf/crs",
    "http://www.opengis.net/spec/WCS_service-extension_scaling/1.0/conf/scaling",
    "http://www.opengis.net/spec/WCS_service-extension_range-subsetting/1.0/conf/record-subsetting",
    "http://www.opengis.net/spec/GMLCOV_geotiff-coverages/1.0/conf/geotiff-coverage",
    "http://www.opengis.net/spec/WCS_coverage-encoding_netcdf/1.0/conf/coverage-encoding_netcdf",
)
SUPPORTED_CRS = (4326, 3857, 3006, 32632, 32633, 32634, 32635)

W = ElementMaker(namespace=WCS, nsmap=NSMAP)
O = ElementMaker(namespace=OWS, nsmap=NSMAP)  # noqa: E741 - O for ows, as in the schemas
G = ElementMaker(namespace=GML, nsmap=NSMAP)
C = ElementMaker(namespace=GMLCOV, nsmap=NSMAP)
S = ElementMaker(namespace=SWE, nsmap=NSMAP)


def gml_id(text: str) -> str:
    """An NCName for gml:id (identifiers may start with a digit or hold ':')."""
    cleaned = re.sub(r"[^\w.-]", "_", text)
    return cleaned if re.match(r"^[A-Za-z_]", cleaned) else f"c_{cleaned}"


def _xsi(element: etree._Element, schema: str) -> etree._Element:
    element.set(f"{{{XSI}}}schemaLocation", f"{WCS} {SCHEMA_ROOT}/{schema}")
    return element


def _serialise(element: etree._Element) -> bytes:
    return bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _operation(name: str, url: str) -> etree._Element:
    return O.Operation(
        O.DCP(O.HTTP(O.Get({f"{{{XLINK}}}href": url + "?"}), O.Post({f"{{{XLINK}}}href": url}))),
        name=name,
    )


def _summary(title: str, records: list[ProductRecord], coverage_id: str, subtype: str) -> Any:
    west = min(r.bbox[0] for r in records)
    south = min(r.bbox[1] for r in records)
    east = max(r.bbox[2] for r in records)
    north = max(r.bbox[3] for r in records)
    return W.CoverageSummary(
        O.Title(title),
        O.WGS84BoundingBox(O.LowerCorner(f"{west} {south}"), O.UpperCorner(f"{east} {north}")),
        W.CoverageId(coverage_id),
        W.CoverageSubtype(subtype),
    )


def capabilities(settings: Settings, records: list[ProductRecord]) -> bytes:
    """Products (2-D coverages) first, then one time series per collection; built from
    the records alone, so no file is opened."""
    url = settings.url("/wcs")
    summaries = [_summary(r.title, [r], r.identifier, "RectifiedGridCoverage") for r in records]
    by_collection: dict[str, list[ProductRecord]] = {}
    for record in records:
        by_collection.setdefault(record.collection, []).append(record)
    for collection, members in sorted(by_collection.items()):
        title = f"{collection} time series ({len(members)} acquisitions)"
        summaries.append(_summary(title, members, collection, "GridCoverage"))
    document = W.Capabilities(
        O.ServiceIdentification(
            O.Title("ogcsdl Web Coverage Service"),
            O.Abstract("Earth-observation products and process outputs as WCS 2.0.1 coverages."),
            O.ServiceType("OGC WCS"),
            O.ServiceTypeVersion("2.0.1"),
            *[O.Profile(profile) for profile in PROFILES],
            O.Fees("NONE"),
            O.AccessConstraints("NONE"),
        ),
        O.ServiceProvider(
            O.ProviderName(settings.catalogue.organisation),
            O.ServiceContact(O.IndividualName(settings.catalogue.contact_name)),
        ),
        O.OperationsMetadata(
            _operation("GetCapabilities", url),
            _operation("DescribeCoverage", url),
            _operation("GetCoverage", url),
        ),
        W.ServiceMetadata(
            *[W.formatSupported(fmt) for fmt in FORMATS if fmt != "application/x-netcdf"]
        ),
        W.Contents(*summaries),
        version="2.0.1",
    )
    return _serialise(_xsi(document, "wcsGetCapabilities.xsd"))


def _envelope(coverage: Coverage) -> etree._Element:
    axes = coverage.axes
    minx, miny, maxx, maxy = coverage.bounds
    low = axes.to_axis_order(minx, miny)
    high = axes.to_axis_order(maxx, maxy)
    return G.Envelope(
        G.lowerCorner(f"{low[0]} {low[1]}"),
        G.upperCorner(f"{high[0]} {high[1]}"),
        srsName=axes.uri,
        axisLabels=" ".join(axes.labels),
        uomLabels=" ".join(axes.units),
        srsDimension="2",
    )


def _domain(coverage: Coverage) -> etree._Element:
    axes, transform, gid = coverage.axes, coverage.transform, gml_id(coverage.identifier)
    # Grid origin is the centre of the upper-left pixel; offset vectors in CRS axis order.
    origin = axes.to_axis_order(transform.c + transform.a / 2, transform.f + transform.e / 2)
    column = axes.to_axis_order(transform.a, 0.0)
    row = axes.to_axis_order(0.0, transform.e)
    return G.RectifiedGrid(
        G.limits(
            G.GridEnvelope(G.low("0 0"), G.high(f"{coverage.width - 1} {coverage.height - 1}"))
        ),
        G.axisLabels(" ".join(axes.labels)),
        G.origin(
            G.Point(
                G.pos(f"{origin[0]} {origin[1]}"),
                {f"{{{GML}}}id": f"{gid}-origin"},
                srsName=axes.uri,
            )
        ),
        G.offsetVector(f"{column[0]} {column[1]}", srsName=axes.uri),
        G.offsetVector(f"{row[0]} {row[1]}", srsName=axes.uri),
        {f"{{{GML}}}id": f"{gid}-grid"},
        dimension="2",
    )


def _range_type(coverage: Coverage) -> etree._Element:
    fields = []
    for band in coverage.record.bands:
        quantity = S.Quantity(
            S.description(band.description or band.name),
            S.uom(code=band.unit or "1"),
        )
        if coverage.nodata is not None:
            quantity.insert(
                1,
                S.nilValues(
                    S.NilValues(
                        S.nilValue(
                            str(coverage.nodata),
                            reason="http://www.opengis.net/def/nil/OGC/0/unknown",
                        )
                    )
                ),
            )
        fields.append(S.field(quantity, name=band.name))
    return S.DataRecord(*fields)


def _series_description(series: TimeSeries) -> etree._Element:
    """A time series: 3-D envelope (CRS axes + UnixTime), an unreferenced 3-D grid (the
    time axis is irregular) and the instants as metadata, each with its product ids."""
    grid, axes = series.grid, series.grid.axes
    minx, miny, maxx, maxy = grid.bounds
    low, high = axes.to_axis_order(minx, miny), axes.to_axis_order(maxx, maxy)
    first, last = unix_seconds(series.times[0]), unix_seconds(series.times[-1])
    compound = f"http://www.opengis.net/def/crs-compound?1={axes.uri}&2={TIME_CRS}"
    gid = gml_id(series.collection)
    # One time step per distinct instant (same-instant products are mosaicked).
    steps: dict[int, list[str]] = {}
    for member in series.members:
        steps.setdefault(round(unix_seconds(member.record.start)), []).append(member.identifier)
    metadata = C.metadata(
        C.Extension(
            *[
                G.TimeInstant(
                    G.description(" ".join(products)),
                    G.timePosition(
                        datetime.fromtimestamp(second, UTC).isoformat().replace("+00:00", "Z")
                    ),
                    {f"{{{GML}}}id": f"{gid}-t{index}"},
                )
                for index, (second, products) in enumerate(sorted(steps.items()))
            ]
        )
    )
    return W.CoverageDescription(
        G.boundedBy(
            G.Envelope(
                G.lowerCorner(f"{low[0]} {low[1]} {first}"),
                G.upperCorner(f"{high[0]} {high[1]} {last}"),
                srsName=compound,
                axisLabels=f"{' '.join(axes.labels)} {TIME_AXIS}",
                uomLabels=f"{' '.join(axes.units)} s",
                srsDimension="3",
            )
        ),
        W.CoverageId(series.collection),
        metadata,
        G.domainSet(
            G.Grid(
                G.limits(
                    G.GridEnvelope(
                        G.low("0 0 0"),
                        G.high(f"{grid.width - 1} {grid.height - 1} {len(steps) - 1}"),
                    )
                ),
                G.axisLabels("i j k"),
                {f"{{{GML}}}id": f"{gid}-grid"},
                dimension="3",
            )
        ),
        C.rangeType(_range_type(grid)),
        W.ServiceParameters(
            W.CoverageSubtype("GridCoverage"), W.nativeFormat("application/netcdf")
        ),
        {f"{{{GML}}}id": gid},
    )


def _description(coverage: Coverage | TimeSeries) -> etree._Element:
    if isinstance(coverage, TimeSeries):
        return _series_description(coverage)
    return W.CoverageDescription(
        G.boundedBy(_envelope(coverage)),
        W.CoverageId(coverage.identifier),
        G.domainSet(_domain(coverage)),
        C.rangeType(_range_type(coverage)),
        W.ServiceParameters(
            W.CoverageSubtype("RectifiedGridCoverage"),
            W.nativeFormat("image/tiff"),
        ),
        {f"{{{GML}}}id": gml_id(coverage.identifier)},
    )


def describe(coverages: list[Coverage | TimeSeries]) -> bytes:
    descriptions = [_description(coverage) for coverage in coverages]
    return _serialise(_xsi(W.CoverageDescriptions(*descriptions), "wcsDescribeCoverage.xsd"))
