"""The product record: what ingest produces and every service (catalogue, tiles,
coverages, processes) reads. It is the one contract between the parts of the suite."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ogcsdl.config import Settings

# Every product file is a Cloud Optimized GeoTIFF, served by the gateway at /data/<id>.tif.
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


def product_href(settings: Settings, identifier: str) -> str:
    """Where the gateway serves a product's COG."""
    return settings.url(f"data/{identifier}.tif")


# Characters XML 1.0 cannot carry (C0 controls but tab, newline and return; lone
# surrogates; U+FFFE/U+FFFF). STAC's JSON and NetCDF attributes may hold them; records
# are served as XML by pycsw and PostgreSQL text refuses NUL, so text from outside
# (harvest, ingest) drops them.
NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: Any) -> Any:
    """``value`` with every character XML 1.0 cannot carry removed, inside lists,
    tuples and dicts too; anything else unchanged."""
    if isinstance(value, str):
        return NOT_XML.sub("", value)
    if isinstance(value, list | tuple):
        return type(value)(xml_text(item) for item in value)
    if isinstance(value, dict):
        return {xml_text(key): xml_text(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class Band:
    name: str  # e.g. "B04", "VV", "SCL", "band_1"
    description: str | None = None  # e.g. "Red"
    center_wavelength_um: float | None = None
    full_width_half_max_um: float | None = None
    unit: str | None = None  # e.g. "reflectance x 10000", "dB", "linear"


# Collections every part of the suite agrees on (catalogue parent ids, tile layer
# groups, coverage ids prefixes, process output types).
SENTINEL2_L1C = "sentinel-2-l1c"
SENTINEL2_L2A = "sentinel-2-l2a"
SENTINEL1_GRD = "sentinel-1-grd"
GENERIC_RASTER = "raster"


@dataclass
class ProductRecord:
    identifier: str
    title: str
    collection: str
    start: datetime
    end: datetime
    footprint_wkt: str  # WGS84 (lon/lat) POLYGON of the valid data
    bbox: tuple[float, float, float, float]  # WGS84 minx, miny, maxx, maxy
    crs: str  # native CRS of the COG, e.g. "EPSG:32633"
    resolution: tuple[float, float]  # native pixel size in CRS units (x, y), positive
    width: int
    height: int
    bands: list[Band]
    file_path: str  # absolute path of the analysis-ready COG
    file_size: int
    dtype: str = "uint16"
    nodata: float | None = None
    platform: str | None = None  # "Sentinel-2A", "Sentinel-1B"
    instrument: str | None = None  # "MSI", "C-SAR"
    sensor_type: str | None = None  # "OPTICAL", "RADAR"
    product_type: str | None = None  # "S2MSI1C", "S2MSI2A", "GRD"
    processing_level: str | None = None  # "Level-1C", "Level-2A", "Level-1"
    cloud_cover: float | None = None  # percent, 0..100
    lineage: str | None = None  # human-readable provenance
    source: str | None = None  # where it came from (path, URL, parent product ids)
    abstract: str | None = None
    keywords: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # orbit, tile id, process inputs...
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def is_local(self) -> bool:
        """Whether the suite holds the data (a COG); harvested records only link to
        their remote data (``extra["remote_assets"]``)."""
        return bool(self.file_path)

    @property
    def remote_assets(self) -> list[dict[str, Any]]:
        """Remote data links of a harvested record: ``href``, ``type``, ``title``, ``roles``."""
        return list(self.extra.get("remote_assets", []))

    @property
    def band_names(self) -> list[str]:
        return [band.name for band in self.bands]

    def to_json(self) -> str:
        # What ``asdict`` gives, without its deep copy (json.dumps only reads): bulk
        # loads and harvests serialise every record.
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["bands"] = [
            {name: getattr(band, name) for name in _BAND_FIELDS} for band in self.bands
        ]
        for key in ("start", "end", "updated"):
            data[key] = getattr(self, key).isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProductRecord:
        data = json.loads(text)
        for key in ("start", "end", "updated"):
            data[key] = datetime.fromisoformat(data[key])
        data["bands"] = [Band(**band) for band in data["bands"]]
        data["bbox"] = tuple(data["bbox"])
        data["resolution"] = tuple(data["resolution"])
        return cls(**data)


_FIELD_NAMES = tuple(item.name for item in fields(ProductRecord))
_BAND_FIELDS = tuple(item.name for item in fields(Band))
