"""EO-WCS (OGC 10-140r2): each collection is a Dataset Series whose members are the
collection's product coverages, described with DescribeEOCoverageSet.

This is how a time series reaches real clients: GDAL's WCS driver and OWSLib only open
rectified 2-D grids, so a series is not offered as one 3-D coverage with an irregular
time axis but as a set of ordinary coverages, each with its own time, that a client
picks by space and time (as EOxServer and GeoServer's EO extension do). The 3-D series
coverage (``COVERAGEID=<collection>`` with a ``time`` subset) stays available to
clients that ask for it, but it is not listed among the coverages.

Member EO metadata is an ``ows:Reference`` to the product's ISO record in the catalogue
(one source of truth for metadata) rather than an inline ``eop:EarthObservation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shapely import wkt
from shapely.geometry import box

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.coverages.errors import InvalidSubsetting
from ogcsdl.coverages.instants import instant_seconds, unix_seconds
from ogcsdl.coverages.values import parse_number
from ogcsdl.errors import InvalidParameterValue, MissingParameterValue, NotFound

WCSEO = "http://www.opengis.net/wcs/wcseo/1.0"
EO_PROFILE = "http://www.opengis.net/spec/WCS_application-profile_earth-observation/1.0/conf/eowcs"
COUNT_DEFAULT = 100
_SECTIONS = ("CoverageDescriptions", "DatasetSeriesDescriptions", "All")


class NoSuchDatasetSeriesOrCoverage(NotFound):
    code = "NoSuchDatasetSeriesOrCoverage"
    status = 404


@dataclass(frozen=True)
class DescribeEOCoverageSetRequest:
    eo_ids: tuple[str, ...]
    lat: tuple[float, float] | None = None
    long: tuple[float, float] | None = None
    time: tuple[float, float] | None = None  # Unix seconds
    containment: Literal["overlaps", "contains"] = "overlaps"
    count: int = COUNT_DEFAULT
    sections: tuple[str, ...] = ("All",)

    def wants(self, section: str) -> bool:
        return "All" in self.sections or section in self.sections


def _number(text: str, axis: str) -> float:
    return parse_number(text, "subset", InvalidSubsetting, f"subset {axis}")


def parse_describe_eo(
    params: dict[str, list[str]], subsets: list[tuple[str, str, str]]
) -> DescribeEOCoverageSetRequest:
    """From KVP ``params`` (lower-case keys) and the parsed ``subsets`` (axis, low, high)."""
    ids = tuple(i.strip() for i in params.get("eoid", [""])[0].split(",") if i.strip())
    if not ids:
        raise MissingParameterValue("EOID is required", "eoId")
    lat = long = None
    time = None
    for axis, low, high in subsets:
        name = axis.lower()
        if name in ("lat", "y", "n"):
            lat = (_number(low, axis), _number(high, axis))
        elif name in ("long", "lon", "x", "e"):
            long = (_number(low, axis), _number(high, axis))
        elif name in ("phenomenontime", "time"):
            time = (instant_seconds(low), instant_seconds(high))
        else:
            raise InvalidSubsetting(
                f"subset axis {axis!r}: use Lat, Long or phenomenonTime", "subset"
            )
    for pair, axis in ((lat, "Lat"), (long, "Long")):
        if pair is not None and pair[0] > pair[1]:
            raise InvalidSubsetting(f"subset {axis}: low is above high", "subset")
    if time is not None and time[0] > time[1]:
        raise InvalidSubsetting("subset phenomenonTime: begin is after end", "subset")
    containment = params.get("containment", ["overlaps"])[0].lower()
    if containment not in ("overlaps", "contains"):
        raise InvalidParameterValue("containment must be overlaps or contains", "containment")
    count_text = params.get("count", [str(COUNT_DEFAULT)])[0]
    if not count_text.isdigit():
        raise InvalidParameterValue("count must be a non-negative integer", "count")
    sections = tuple(s for s in params.get("sections", ["All"])[0].split(",") if s) or ("All",)
    for section in sections:
        if section not in _SECTIONS:
            raise InvalidParameterValue(f"unknown section {section!r}", "sections")
    return DescribeEOCoverageSetRequest(
        eo_ids=ids,
        lat=lat,
        long=long,
        time=time,
        containment=containment,  # type: ignore[arg-type]
        count=min(int(count_text), COUNT_DEFAULT),
        sections=sections,
    )


@dataclass(frozen=True)
class EOCoverageSet:
    series: dict[str, list[ProductRecord]]  # series id -> every member (for descriptions)
    coverages: list[ProductRecord]  # the matching coverages, oldest first
    matched: int


def _matches(record: ProductRecord, request: DescribeEOCoverageSetRequest) -> bool:
    if request.lat is not None or request.long is not None:
        south, north = request.lat or (-90.0, 90.0)
        west, east = request.long or (-180.0, 180.0)
        area = box(west, south, east, north)
        footprint = wkt.loads(record.footprint_wkt)
        if request.containment == "contains":
            if not area.contains(footprint):
                return False
        elif not area.intersects(footprint):
            return False
    if request.time is not None:
        begin, end = request.time
        start, stop = unix_seconds(record.start), unix_seconds(record.end)
        if request.containment == "contains":
            return begin <= start and stop <= end
        return start <= end and stop >= begin
    return True


def select(request: DescribeEOCoverageSetRequest, records: list[ProductRecord]) -> EOCoverageSet:
    """Dataset series named in ``eoId`` contribute their members, coverage ids themselves;
    then the space/time subset filters them (EO-WCS 9.4)."""
    by_id = {record.identifier: record for record in records}
    collections: dict[str, list[ProductRecord]] = {}
    for record in records:
        collections.setdefault(record.collection, []).append(record)
    series: dict[str, list[ProductRecord]] = {}
    candidates: dict[str, ProductRecord] = {}
    for eo_id in request.eo_ids:
        if eo_id in collections:
            series[eo_id] = sorted(collections[eo_id], key=lambda r: r.start)
            candidates.update((r.identifier, r) for r in collections[eo_id])
        elif eo_id in by_id:
            candidates[eo_id] = by_id[eo_id]
        else:
            raise NoSuchDatasetSeriesOrCoverage(f"no dataset series or coverage {eo_id!r}", "eoId")
    matching = sorted(
        (r for r in candidates.values() if _matches(r, request)),
        key=lambda r: (r.start, r.identifier),
    )
    return EOCoverageSet(series, matching[: request.count], len(matching))
