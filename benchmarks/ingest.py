"""Ingest of a Sentinel-2 band folder (13 bands at 10/20/60 m) against a baseline
measured in the same run: GDAL's COG driver converting the same pixels already stacked
on the 10 m grid (no resampling, no footprint, no catalogue). The ratio is what the
pipeline's resampling, footprint tracing and record writing cost on top of the bare COG.

Run: ``PYTHONPATH=$PWD .venv/bin/python -m benchmarks.ingest [--size 4020]``
(the size must be a multiple of 6; a full Sentinel-2 tile is 10980).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import rasterio
import rasterio.shutil
from rasterio.enums import Resampling

from ogcsdl.config import load_settings
from ogcsdl.ingest.pipeline import ingest_product
from ogcsdl.ingest.writer import cog_options
from tests.rasters import write_s2_band_folder


def _stack_on_10m_grid(folder: Path, destination: Path) -> None:
    bands = sorted(folder.glob("*_B*.tif"))
    with rasterio.open(next(path for path in bands if path.stem.endswith("B02"))) as reference:
        profile = reference.profile | {
            "count": len(bands),
            "tiled": True,
            "blockxsize": 512,
            "blockysize": 512,
            "compress": "none",
        }
        shape = (reference.height, reference.width)
    with rasterio.open(destination, "w", **profile) as stacked:
        for index, path in enumerate(bands, start=1):
            with rasterio.open(path) as band:
                stacked.write(band.read(1, out_shape=shape, resampling=Resampling.bilinear), index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4020, help="10 m pixels per side")
    args = parser.parse_args()
    if args.size % 6:
        parser.error("--size must be a multiple of 6 (60 m bands)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = write_s2_band_folder(root / "T33VXF_20210725T102031", size=args.size)
        settings = load_settings(None, data_dir=str(root / "var"))
        settings.ensure_dirs()

        stacked = root / "stacked.tif"
        _stack_on_10m_grid(folder, stacked)
        started = time.perf_counter()
        with rasterio.open(stacked) as source:
            rasterio.shutil.copy(
                source, root / "baseline.tif", driver="COG", **cog_options(settings.ingest, False)
            )
        baseline_s = time.perf_counter() - started

        started = time.perf_counter()
        record = ingest_product(settings, folder)
        ours_s = time.perf_counter() - started

        pixels = args.size * args.size * 13
        print(f"S2 band folder {args.size}x{args.size} x 13 bands ({pixels / 1e6:.0f} Mpx at 10 m)")
        print(
            f"ogcsdl ingest {ours_s:7.1f} s | COG of pre-stacked pixels {baseline_s:7.1f} s"
            f" | ratio (time) {ours_s / baseline_s:.2f}"
        )
        print(
            f"record {record.identifier}: {record.file_size / 1e6:.0f} MB COG, bands {len(record.bands)}"
        )


if __name__ == "__main__":
    main()
