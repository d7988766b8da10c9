"""Publish process outputs: every raster output becomes a COG plus a catalogue record
with lineage, and so (through the product store) a tile layer and a WCS coverage."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.warp import transform_bounds

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import Band, ProductRecord
from ogcsdl.config import Settings
from ogcsdl.errors import NotFound
from processes.base import ProcessDescription, Raster, RasterOutput


@dataclass
class Lineage:
    """Where a published output came from (kept in ``ProductRecord.extra``)."""

    process_id: str
    process_version: str
    job_id: str
    parameters: dict[str, Any]
    source_ids: list[str]
    started: datetime
    finished: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "process_id": self.process_id,
            "process_version": self.process_version,
            "job_id": self.job_id,
            "parameters": self.parameters,
            "source_ids": self.source_ids,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat(),
        }

    def sentence(self) -> str:
        sources = ", ".join(self.source_ids) or "inline inputs"
        return (
            f"Produced by process {self.process_id} {self.process_version} (job {self.job_id}) "
            f"from {sources} between {self.started.isoformat()} and {self.finished.isoformat()}."
        )


def output_identifier(job_id: str, process_id: str, output_id: str) -> str:
    return f"{process_id}-{output_id}-{job_id}"


def write_cog(raster: Raster, target: Path, settings: Settings) -> None:
    """Write ``raster`` as a Cloud Optimized GeoTIFF (tiled, compressed, overviews)."""
    array = np.asarray(raster.data.values)
    if array.dtype == np.bool_:
        array = array.astype("uint8")
    count, height, width = array.shape
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(suffix=".tif", dir=target.parent)
    os.close(fd)
    try:
        profile = {
            "driver": "GTiff",
            "width": width,
            "height": height,
            "count": count,
            "dtype": array.dtype.name,
            "crs": raster.crs,
            "transform": raster.transform,
            "nodata": raster.nodata,
        }
        with rasterio.open(scratch, "w", **profile) as dst:
            dst.write(array)
            for index, name in enumerate(raster.band_names, start=1):
                dst.set_band_description(index, name)
        rasterio.shutil.copy(
            scratch,
            str(target),
            driver="COG",
            compress=settings.ingest.compression.upper(),
            blocksize=min(settings.ingest.blocksize, 512),
            overview_resampling=settings.ingest.overview_resampling,
        )
    finally:
        os.unlink(scratch)


def publish_raster(
    raster: Raster,
    output: RasterOutput,
    description: ProcessDescription,
    lineage: Lineage,
    settings: Settings,
) -> ProductRecord:
    identifier = output_identifier(lineage.job_id, description.id, output.id)
    target = settings.cog_dir / f"{identifier}.tif"
    write_cog(raster, target, settings)
    with rasterio.open(target) as src:
        bbox = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
        resolution = (abs(src.res[0]), abs(src.res[1]))
        dtype = src.dtypes[0]
    minx, miny, maxx, maxy = bbox
    source_start, source_end = _source_times(settings, lineage.source_ids)
    start = _metadata_time(raster, "start") or source_start or lineage.finished
    end = _metadata_time(raster, "end") or source_end or start
    record = ProductRecord(
        identifier=identifier,
        title=f"{description.title}: {output.title} (job {lineage.job_id[:8]})",
        collection=output.collection,
        start=start,
        end=end,
        footprint_wkt=f"POLYGON(({minx} {miny},{maxx} {miny},{maxx} {maxy},{minx} {maxy},{minx} {miny}))",
        bbox=(minx, miny, maxx, maxy),
        crs=raster.crs,
        resolution=resolution,
        width=int(raster.data.sizes["x"]),
        height=int(raster.data.sizes["y"]),
        bands=[Band(name=name) for name in raster.band_names],
        file_path=str(target),
        file_size=target.stat().st_size,
        dtype=dtype,
        nodata=raster.nodata,
        lineage=lineage.sentence(),
        source=",".join(lineage.source_ids) or None,
        abstract=output.abstract or description.abstract,
        keywords=["process output", description.id, *description.keywords],
        extra={"lineage": lineage.as_dict(), "style": output.style, "output_id": output.id},
        updated=datetime.now(UTC),
    )
    product_store(settings).upsert(record)
    return record


def _source_times(
    settings: Settings, source_ids: list[str]
) -> tuple[datetime | None, datetime | None]:
    """The acquisition span of the catalogue products an output came from: an output
    is about the time its inputs were observed, not when the job ran."""
    store = product_store(settings)
    records = []
    for identifier in source_ids:
        try:
            records.append(store.get(identifier))
        except NotFound:
            continue  # a URL input, not a catalogue product
    if not records:
        return None, None
    return min(r.start for r in records), max(r.end for r in records)


def _metadata_time(raster: Raster, key: str) -> datetime | None:
    value = raster.metadata.get(key)
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
