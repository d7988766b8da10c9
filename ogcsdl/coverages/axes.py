"""CRS axes as WCS 2.0 names them: labels and order as the CRS defines them (E/N for UTM,
Lat/Long for EPSG:4326, N/E for SWEREF 99 TM), and OGC CRS URIs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pyproj import CRS as ProjCRS

CRS_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
_URI_RE = re.compile(
    r"^(?:https?://www\.opengis\.net/def/crs/EPSG/0/|urn:ogc:def:crs:EPSG::|EPSG:)(\d+)$"
)
# WCS 2.0 examples and GDAL use "Long" where PROJ abbreviates "Lon".
_LABEL_FIXES = {"Lon": "Long"}


@dataclass(frozen=True)
class CrsAxes:
    epsg: int
    labels: tuple[str, str]  # in the CRS's axis order
    units: tuple[str, str]
    northing_first: bool  # first axis is latitude / northing

    @property
    def uri(self) -> str:
        return CRS_URI.format(code=self.epsg)

    @property
    def x_label(self) -> str:
        return self.labels[1] if self.northing_first else self.labels[0]

    @property
    def y_label(self) -> str:
        return self.labels[0] if self.northing_first else self.labels[1]

    def to_axis_order(self, x: float, y: float) -> tuple[float, float]:
        return (y, x) if self.northing_first else (x, y)


def parse_crs_uri(text: str) -> int | None:
    """EPSG code of an OGC CRS URI (or URN / EPSG:n), None when not one."""
    match = _URI_RE.match(text.strip())
    return int(match.group(1)) if match else None


@lru_cache(maxsize=64)
def crs_axes(epsg: int) -> CrsAxes:
    crs = ProjCRS.from_epsg(epsg)
    info = crs.axis_info[:2]
    labels = tuple(_LABEL_FIXES.get(axis.abbrev, axis.abbrev) for axis in info)
    units = tuple("deg" if "degree" in axis.unit_name else "m" for axis in info)
    northing_first = info[0].direction in ("north", "south")
    return CrsAxes(epsg, (labels[0], labels[1]), (units[0], units[1]), northing_first)
