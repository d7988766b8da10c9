"""WCS 2.0.1 XML documents: Capabilities and CoverageDescriptions (GML 3.2 / GMLCOV 1.0 /
SWE 2.0), built with lxml so every value is escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from lxml import etree
from lxml.builder import ElementMaker

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.coverages.coverage import Coverage
from ogcsdl.coverages.eo import (
    COUNT_DEFAULT,
    EO_PROFILE,
    WCSEO,
    DescribeEOCoverageSetRequest,
    EOCoverageSet,
)
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
    "wcseo": WCSEO,
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
    EO_PROFILE,
)
SUPPORTED_CRS = (4326, 3857, 3006, 32632, 32633, 32634, 32635)

W = ElementMaker(namespace=WCS, nsmap=NSMAP)
O = ElementMaker(namespace=OWS, nsmap=NSMAP)  # noqa: E741 - O for ows, as in the schemas
G = ElementMaker(namespace=GML, nsmap=NSMAP)
C = ElementMaker(namespace=GMLCOV, nsmap=NSMAP)
S = ElementMaker(namespace=SWE, nsmap=NSMAP)
EO = ElementMaker(namespace=WCSEO, nsmap=NSMAP)


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


def _wgs84_box(records: list[ProductRecord]) -> etree._Element:
    west = min(r.bbox[0] for r in records)
    south = min(r.bbox[1] for r in records)
    east = max(r.bbox[2] for r in records)
    north = max(r.bbox[3] for r in records)
    return O.WGS84BoundingBox(O.LowerCorner(f"{west} {south}"), O.UpperCorner(f"{east} {north}"))


def _time_period(gid: str, records: list[ProductRecord]) -> etree._Element:
    return G.TimePeriod(
        G.beginPosition(_iso(min(r.start for r in records))),
        G.endPosition(_iso(max(r.end for r in records))),
        {f"{{{GML}}}id": gid},
    )


def _iso(value: datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _by_collection(records: list[ProductRecord]) -> dict[str, list[ProductRecord]]:
    by_collection: dict[str, list[ProductRecord]] = {}
    for record in records:
        by_collection.setdefault(record.collection, []).append(record)
    return dict(sorted(by_collection.items()))


def capabilities(settings: Settings, records: list[ProductRecord]) -> bytes:
    """Products as 2-D coverages, collections as EO-WCS dataset series; built from the
    records alone, so no file is opened."""
    url = settings.url("/wcs")
    summaries = [
        W.CoverageSummary(
            O.Title(r.title),
            _wgs84_box([r]),
            W.CoverageId(r.identifier),
            W.CoverageSubtype("RectifiedGridCoverage"),
        )
        for r in records
    ]
    series = [
        EO.DatasetSeriesSummary(
            O.Title(f"{collection} ({len(members)} acquisitions)"),
            _wgs84_box(members),
            EO.DatasetSeriesId(collection),
            _time_period(f"{gml_id(collection)}-period", members),
        )
        for collection, members in _by_collection(records).items()
    ]
    if series:
        summaries.append(W.Extension(*series))
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
            _operation("DescribeEOCoverageSet", url),
            O.Constraint(O.NoValues(), O.DefaultValue(str(COUNT_DEFAULT)), name="CountDefault"),
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


def _eo_metadata(settings: Settings, identifier: str) -> etree._Element:
    """EO metadata by reference: the product's ISO 19139 record in our catalogue."""
    query = urlencode(
        {
            "service": "CSW",
            "version": "2.0.2",
            "request": "GetRecordById",
            "id": identifier,
            "outputSchema": "http://www.isotc211.org/2005/gmd",
            "elementSetName": "full",
        }
    )
    reference = O.Reference(
        O.Format("application/xml"), {f"{{{XLINK}}}href": f"{settings.url('csw')}?{query}"}
    )
    return C.metadata(C.Extension(EO.EOMetadata(reference)))


def _description(coverage: Coverage | TimeSeries, settings: Settings) -> etree._Element:
    if isinstance(coverage, TimeSeries):
        return _series_description(coverage)
    return W.CoverageDescription(
        G.boundedBy(_envelope(coverage)),
        W.CoverageId(coverage.identifier),
        _eo_metadata(settings, coverage.identifier),
        G.domainSet(_domain(coverage)),
        C.rangeType(_range_type(coverage)),
        W.ServiceParameters(
            W.CoverageSubtype("RectifiedGridCoverage"),
            W.nativeFormat("image/tiff"),
        ),
        {f"{{{GML}}}id": gml_id(coverage.identifier)},
    )


def describe(coverages: list[Coverage | TimeSeries], settings: Settings) -> bytes:
    descriptions = [_description(coverage, settings) for coverage in coverages]
    return _serialise(_xsi(W.CoverageDescriptions(*descriptions), "wcsDescribeCoverage.xsd"))


def describe_eo_coverage_set(
    settings: Settings,
    request: DescribeEOCoverageSetRequest,
    found: EOCoverageSet,
    coverages: list[Coverage],
) -> bytes:
    """wcseo:EOCoverageSetDescription: the matching coverages and the named series."""
    children = []
    if request.wants("CoverageDescriptions"):
        children.append(W.CoverageDescriptions(*[_description(c, settings) for c in coverages]))
    if request.wants("DatasetSeriesDescriptions"):
        children.append(
            EO.DatasetSeriesDescriptions(
                *[
                    EO.DatasetSeriesDescription(
                        G.boundedBy(_wgs84_envelope(members)),
                        EO.DatasetSeriesId(series_id),
                        _time_period(f"{gml_id(series_id)}-period", members),
                        {f"{{{GML}}}id": gml_id(f"series-{series_id}")},
                    )
                    for series_id, members in found.series.items()
                ]
            )
        )
    document = EO.EOCoverageSetDescription(
        *children, numberMatched=str(found.matched), numberReturned=str(len(coverages))
    )
    document.set(
        f"{{{XSI}}}schemaLocation", f"{WCSEO} http://schemas.opengis.net/wcs/wcseo/1.0/wcsEOAll.xsd"
    )
    return _serialise(document)


def _wgs84_envelope(records: list[ProductRecord]) -> etree._Element:
    west = min(r.bbox[0] for r in records)
    south = min(r.bbox[1] for r in records)
    east = max(r.bbox[2] for r in records)
    north = max(r.bbox[3] for r in records)
    return G.Envelope(
        G.lowerCorner(f"{south} {west}"),
        G.upperCorner(f"{north} {east}"),
        srsName="http://www.opengis.net/def/crs/EPSG/0/4326",
        axisLabels="Lat Long",
        uomLabels="deg deg",
        srsDimension="2",
    )
