"""Small real products for the STAC tests: a 20x20 GeoTIFF per item (so ``proj:*`` comes
from a real header and clients can open the asset) and its product record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_bounds

from ogcsdl.catalogue.record import Band, ProductRecord

COLLECTION = "stac-test-collection"
SIZE = 20


def write_raster(path: Path, lon: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (np.arange(2 * SIZE * SIZE, dtype="uint16").reshape(2, SIZE, SIZE) % 500) + 1
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=SIZE,
        height=SIZE,
        count=2,
        dtype="uint16",
        crs="EPSG:4326",
        transform=from_bounds(lon, 59.0, lon + 1, 60.0, SIZE, SIZE),
        tiled=True,
        blockxsize=16,
        blockysize=16,
    ) as dataset:
        dataset.write(data)


def stac_record(
    cog_dir: Path, identifier: str, day: int, lon: float, cloud: float | None
) -> ProductRecord:
    """Sensing start and stop a few seconds apart, as in a real Sentinel-2 product; the
    footprint is a triangle, so its envelope covers more than the footprint."""
    when = datetime(2023, 5, day, 10, 30, tzinfo=UTC)
    path = cog_dir / f"{identifier}.tif"
    write_raster(path, lon)
    return ProductRecord(
        identifier=identifier,
        title=identifier,
        collection=COLLECTION,
        start=when,
        end=when + timedelta(seconds=5),
        footprint_wkt=f"POLYGON(({lon} 59,{lon + 1} 59,{lon} 60,{lon} 59))",
        bbox=(lon, 59.0, lon + 1, 60.0),
        crs="EPSG:4326",
        resolution=(1 / SIZE, 1 / SIZE),
        width=SIZE,
        height=SIZE,
        bands=[Band("B04", "Red", 0.665), Band("B08", "NIR", 0.842)],
        file_path=str(path),
        file_size=path.stat().st_size,
        platform="Sentinel-2B",
        instrument="MSI",
        cloud_cover=cloud,
        product_type="S2MSI2A",
        processing_level="Level-2A",
    )


def five_records(cog_dir: Path) -> list[ProductRecord]:
    """Items 0..4 on days 1..5 at longitudes 10..18, cloud cover none,10,20,30,40 (the
    newest item, first by default, has every property: validators read the first)."""
    clouds: list[float | None] = [None, 10.0, 20.0, 30.0, 40.0]
    return [
        stac_record(cog_dir, f"stac-item-{index}", index + 1, 10.0 + 2 * index, cloud)
        for index, cloud in enumerate(clouds)
    ]
