"""The processor contract: a pure function over rasters plus the description every
processing interface (WPS 1.0.0, OGC API - Processes) is generated from.

A processor never touches files, URLs, databases or HTTP. The job system resolves
inputs (catalogue product ids, URLs, inline values) into the types below, calls
``run``, then writes raster outputs as COGs and publishes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import xarray as xr
from affine import Affine

LiteralType = Literal["string", "integer", "float", "boolean"]


@dataclass(frozen=True)
class LiteralInput:
    id: str
    title: str
    data_type: LiteralType
    abstract: str = ""
    default: Any = None
    allowed_values: tuple[Any, ...] | None = None
    min_occurs: int = 1
    max_occurs: int = 1
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class RasterInput:
    """A raster: given as a catalogue product id, a URL of a GeoTIFF/COG (or a WCS
    GetCoverage URL), and resolved to :class:`Raster`."""

    id: str
    title: str
    abstract: str = ""
    required_bands: tuple[str, ...] = ()  # band names the processor needs, if any
    min_occurs: int = 1
    max_occurs: int = 1


@dataclass(frozen=True)
class ComplexInput:
    """A document given by value or reference (e.g. GeoJSON)."""

    id: str
    title: str
    media_types: tuple[str, ...]
    abstract: str = ""
    min_occurs: int = 1
    max_occurs: int = 1


@dataclass(frozen=True)
class BoundingBoxInput:
    id: str
    title: str
    abstract: str = ""
    crs: tuple[str, ...] = ("EPSG:4326",)
    min_occurs: int = 1
    max_occurs: int = 1


InputDescription = LiteralInput | RasterInput | ComplexInput | BoundingBoxInput


@dataclass(frozen=True)
class RasterOutput:
    id: str
    title: str
    collection: str  # catalogue collection / tile layer group of the published output
    abstract: str = ""
    style: str = "default"  # renderer style for the published layer, e.g. "cloud-classes"


@dataclass(frozen=True)
class LiteralOutput:
    id: str
    title: str
    data_type: LiteralType
    abstract: str = ""
    uom: str | None = None
    # When set, a successful job writes the value into this ProductRecord field of its
    # source product (e.g. "cloud_cover"), so catalogue searches see what was computed.
    catalogue_field: str | None = None


@dataclass(frozen=True)
class ComplexOutput:
    id: str
    title: str
    media_types: tuple[str, ...]
    abstract: str = ""


OutputDescription = RasterOutput | LiteralOutput | ComplexOutput


@dataclass(frozen=True)
class ProcessDescription:
    id: str
    version: str
    title: str
    abstract: str
    inputs: tuple[InputDescription, ...]
    outputs: tuple[OutputDescription, ...]
    keywords: tuple[str, ...] = ()


@dataclass
class BoundingBox:
    minx: float
    miny: float
    maxx: float
    maxy: float
    crs: str = "EPSG:4326"


@dataclass
class Raster:
    """A georeferenced raster: ``data`` has dims (band, y, x) and a ``band`` coordinate
    of band names; it may be dask-backed (chunked) for large inputs."""

    data: xr.DataArray
    crs: str
    transform: Affine
    nodata: float | None = None
    source_ids: tuple[str, ...] = ()  # catalogue ids it came from (lineage)
    metadata: dict[str, Any] = field(default_factory=dict)  # e.g. acquisition time, platform

    def band(self, name: str) -> xr.DataArray:
        return self.data.sel(band=name)

    @property
    def band_names(self) -> list[str]:
        return [str(name) for name in self.data["band"].values]


class ProcessContext(Protocol):
    def progress(self, percent: float, message: str = "") -> None:
        """Report progress (0-100); raises if the job was dismissed meanwhile."""


def hand_over(context: ProcessContext, output_id: str, value: Any) -> None:
    """Give the job system an output before ``run`` returns, so it can write it (a COG
    takes seconds) while the processor goes on with the others. ``run`` must return
    the same object for ``output_id``, unchanged after this call. A context that
    cannot take outputs early (tests, in-process runs) ignores it."""
    take = getattr(context, "output_ready", None)
    if take is not None:
        take(output_id, value)


class Processor(Protocol):
    description: ProcessDescription

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        """Inputs by id: literals as Python values, rasters as :class:`Raster`, bounding
        boxes as :class:`BoundingBox`, complex inputs as parsed documents (dict) or
        str/bytes; a list when ``max_occurs > 1``. Returns outputs by id: ``Raster`` for
        raster outputs, Python values for literals, dict/str for complex outputs."""
        ...


ProcessorFactory = Callable[[], Processor]
