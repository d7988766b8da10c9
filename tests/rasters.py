"""Small, realistic rasters and products for tests, written with rasterio in tmp dirs.

Reuse these from any test: every writer returns the path it wrote and takes a directory
(pytest's ``tmp_path``). Products use the demo generator's layouts, so what tests ingest
has the same structure as real Sentinel products, just smaller.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from ogcsdl.demo import generate_demo_set
from ogcsdl.demo.layouts import S2Acquisition, write_s1_grd, write_s2_safe
from ogcsdl.demo.synthetic import make_landscape, make_optical
from ogcsdl.ingest.bands import S2_BANDS as S2_BAND_INFO

UTM33 = "EPSG:32633"
ORIGIN = (660000.0, 6580000.0)
SIZE = 60  # 10 m pixels per side: 600 m; 20 m bands 30 px, 60 m bands 10 px


def transform(resolution: float = 10.0, origin: tuple[float, float] = ORIGIN) -> Affine:
    return Affine(resolution, 0, origin[0], 0, -resolution, origin[1])


def write_geotiff(
    path: Path,
    data: np.ndarray,
    *,
    crs: str | None = UTM33,
    resolution: float = 10.0,
    nodata: float | None = None,
    descriptions: list[str] | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    """A GeoTIFF of ``data`` ((bands, rows, cols) or (rows, cols)); ``crs=None`` writes
    one without georeferencing."""
    array = data if data.ndim == 3 else data[None]
    path.parent.mkdir(parents=True, exist_ok=True)
    profile: dict[str, object] = {
        "driver": "GTiff",
        "width": array.shape[2],
        "height": array.shape[1],
        "count": array.shape[0],
        "dtype": array.dtype.name,
        "nodata": nodata,
    }
    if crs is not None:
        profile.update(crs=crs, transform=transform(resolution))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
        if descriptions:
            dst.descriptions = tuple(descriptions)
        if tags:
            dst.update_tags(**tags)
    return path


def reflectance_dn(size: int = SIZE, seed: int = 0) -> np.ndarray:
    """(13, size, size) uint16 TOA reflectance x 10000 of a small scene (band order B01..B12
    incl. B8A), from the demo landscape generator."""
    land = make_landscape(size, seed)
    scene = make_optical(land, seed + 2, 0.1, top_of_atmosphere=True)
    return np.clip(np.round(scene.reflectance * 10000), 1, 65535).astype(np.uint16)


S2_NAMES = tuple(info.name for info in S2_BAND_INFO)  # the 13 MSI bands, product order
S2_RESOLUTION = {"B02": 10, "B03": 10, "B04": 10, "B08": 10, "B01": 60, "B09": 60, "B10": 60}


def write_s2_band_folder(
    folder: Path,
    *,
    prefix: str = "T33VXF_20210725T102031",
    size: int = SIZE,
    crs: str = UTM33,
    dates_txt: str | None = None,
) -> Path:
    """An OSCD-style folder of per-band GeoTIFFs (``<prefix>_B02.tif``), 20 m and 60 m bands
    at their native, smaller sizes. ``dates_txt`` is written to ``folder.parent/dates.txt``."""
    dn = reflectance_dn(size)
    for index, name in enumerate(S2_NAMES):
        resolution = S2_RESOLUTION.get(name, 20)
        factor = resolution // 10
        coarse = dn[index].reshape(size // factor, factor, size // factor, factor).mean((1, 3))
        pixel = 10.0 * factor if crs != "EPSG:4326" else 1e-4 * factor
        write_geotiff(
            folder / f"{prefix}_{name}.tif", coarse.astype(np.uint16), crs=crs, resolution=pixel
        )
    if dates_txt is not None:
        (folder.parent / "dates.txt").write_text(dates_txt, encoding="utf-8")
    return folder


def write_s2_safe_product(out_dir: Path, level: str = "L2A", size: int = SIZE) -> Path:
    """A Sentinel-2 SAFE (MTD XML + JPEG2000 bands at 10/20/60 m), 2021-08-14 for L2A."""
    land = make_landscape(size, 7)
    when = datetime(2021, 8, 14, 10, 20, 31, tzinfo=UTC)
    acquisition = S2Acquisition("Sentinel-2A", when, 65, 32120)
    scene = make_optical(land, 8, 0.15, top_of_atmosphere=level == "L1C")
    return write_s2_safe(out_dir, level, acquisition, scene)


def write_s1_product(out_dir: Path, size: int = SIZE, flooded: bool = True) -> Path:
    """A Sentinel-1 IW GRD VV/VH dB GeoTIFF named like its product (2021-08-18)."""
    land = make_landscape(size, 7)
    when = datetime(2021, 8, 18, 5, 23, 13, tzinfo=UTC)
    return write_s1_grd(out_dir, land, when, 39298, flooded, seed=5)


def write_s1_chip(path: Path, *, linear: bool = False, size: int = SIZE) -> Path:
    """A Sen1Floods11-style chip (``*_S1Hand.tif``): 2 float bands, no date anywhere."""
    rng = np.random.default_rng(3)
    db = np.stack([rng.normal(-11, 4, (size, size)), rng.normal(-19, 4, (size, size))])
    data = (10 ** (db / 10) if linear else db).astype(np.float32)
    data[:, :5, :] = np.nan
    return write_geotiff(
        path, data, crs="EPSG:4326", resolution=9e-5, nodata=float("nan"), descriptions=["VV", "VH"]
    )


def write_netcdf(path: Path, size: int = 40, title: str = "Test NDVI and LST") -> Path:
    """A CF NetCDF with two variables on a lon/lat grid and a time axis of 2 steps."""
    import xarray as xr

    lon = 18.0 + (np.arange(size) + 0.5) * 0.001
    lat = 59.4 - (np.arange(size) + 0.5) * 0.001
    times = np.array(["2021-08-06T10:00", "2021-08-18T10:00"], dtype="datetime64[ns]")
    rng = np.random.default_rng(1)
    ndvi = rng.uniform(-0.2, 0.9, (2, size, size)).astype(np.float32)
    temperature = rng.normal(290, 3, (2, size, size)).astype(np.float32)
    dataset = xr.Dataset(
        {
            "ndvi": (("time", "lat", "lon"), ndvi, {"long_name": "NDVI", "units": "1"}),
            "lst": (
                ("time", "lat", "lon"),
                temperature,
                {"long_name": "land surface temperature", "units": "K"},
            ),
        },
        coords={
            "time": ("time", times),
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={"Conventions": "CF-1.8", "title": title, "platform": "Sentinel-3A"},
    )
    dataset.to_netcdf(path, engine="netcdf4")
    return path


def write_partial_valid(path: Path, size: int = 64) -> Path:
    """A uint16 UTM raster whose valid data is a triangle (the rest nodata 0): its
    footprint must be much smaller than its bounding box."""
    rows, cols = np.mgrid[0:size, 0:size]
    data = np.where(cols <= rows, 1000 + rows, 0).astype(np.uint16)
    return write_geotiff(path, data, nodata=0)


def write_broken_files(directory: Path) -> dict[str, Path]:
    """Files that must be rejected with a clear reason: random bytes named .tif, a text
    file named .tif, a truncated GeoTIFF, a text file with an unknown suffix."""
    directory.mkdir(parents=True, exist_ok=True)
    random_bytes = directory / "random.tif"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(4096))
    text = directory / "notes.tif"
    text.write_text("this is not a raster\n", encoding="utf-8")
    whole = write_geotiff(directory / "whole.tif", reflectance_dn(128)[:4])
    truncated = directory / "truncated.tif"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    whole.unlink()
    unknown = directory / "readme.txt"
    unknown.write_text("hello\n", encoding="utf-8")
    return {"random": random_bytes, "text": text, "truncated": truncated, "unknown": unknown}


def write_demo_set(directory: Path, size: int = 60) -> list[Path]:
    """The whole demo set (S2 L2A + L1C SAFE, S1 pre/post flood), small."""
    return generate_demo_set(directory, size=size)
