"""Synthetic demo data: a small, realistic Sentinel-2/Sentinel-1 set in real layouts, so
the suite runs end to end with no data given."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ogcsdl.demo.layouts import S2Acquisition, write_s1_grd, write_s2_safe
from ogcsdl.demo.synthetic import make_landscape, make_optical

DEMO_SIZE = 600  # pixels at 10 m: 6 x 6 km, 20 m and 60 m bands divide it exactly


def generate_demo_set(out_dir: Path, size: int = DEMO_SIZE, seed: int = 42) -> list[Path]:
    """Write the demo products into ``out_dir`` and return their paths:

    - a Sentinel-2 L2A SAFE (2021-08-14, ~15 % cloud with shadows, SCL at 20 m),
    - a Sentinel-2 L1C SAFE of the same tile 20 days earlier (~4 % cloud, other harvest),
    - a Sentinel-1 GRD pair over the same area before and after a flood (VV/VH dB).
    """
    if size % 6:
        raise ValueError("size must be a multiple of 6 so 20 m and 60 m bands tile exactly")
    out_dir.mkdir(parents=True, exist_ok=True)
    land = make_landscape(size, seed)
    l2a = S2Acquisition("Sentinel-2A", datetime(2021, 8, 14, 10, 20, 31, tzinfo=UTC), 65, 32120)
    l1c = S2Acquisition("Sentinel-2A", datetime(2021, 7, 25, 10, 20, 31, tzinfo=UTC), 65, 31834)
    return [
        write_s2_safe(
            out_dir, "L2A", l2a, make_optical(land, seed + 1, 0.15, top_of_atmosphere=False)
        ),
        write_s2_safe(
            out_dir, "L1C", l1c, make_optical(land, seed + 2, 0.04, top_of_atmosphere=True)
        ),
        write_s1_grd(
            out_dir, land, datetime(2021, 8, 6, 5, 23, 12, tzinfo=UTC), 39123, False, seed + 3
        ),
        write_s1_grd(
            out_dir, land, datetime(2021, 8, 18, 5, 23, 13, tzinfo=UTC), 39298, True, seed + 4
        ),
    ]
