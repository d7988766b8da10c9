"""Synthetic but realistic Earth-observation product records for the catalogue benchmark.

Five collections over Europe (lon -10..35, lat 35..70), five years of acquisitions
(2020-2024): Sentinel-2 L2A and L1C tiles (~110 km, UTM-skewed, a third cut at the
swath edge), Sentinel-1 GRD swaths (~250 x 170 km, orbit number and direction, no cloud
cover), Landsat scenes (~185 km) and small VHR scenes (~20-60 km). Cloud cover 0-100
where the sensor is optical, skewed towards clear scenes as archives are. Records are
metadata-only (no local COG, a remote asset link), like harvested ones, so the tile and
coverage services do not try to open a million files.

Deterministic: record ``i`` of seed ``s`` is always the same record.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ogcsdl.catalogue.record import (
    COG_MEDIA_TYPE,
    SENTINEL1_GRD,
    SENTINEL2_L1C,
    SENTINEL2_L2A,
    Band,
    ProductRecord,
)

EUROPE = (-10.0, 35.0, 35.0, 70.0)
FIRST_DAY = datetime(2020, 1, 1, tzinfo=UTC)
DAYS = 5 * 365
KM_PER_DEGREE = 111.32


@dataclass(frozen=True)
class Mission:
    collection: str
    share: float
    platforms: tuple[str, ...]
    instrument: str
    sensor_type: str
    product_type: str
    level: str
    size_km: tuple[float, float]  # width range (across track), km
    aspect: float  # along / across track
    bands: tuple[str, ...]
    optical: bool
    resolution: float


MISSIONS = (
    Mission(
        SENTINEL2_L2A,
        0.35,
        ("Sentinel-2A", "Sentinel-2B"),
        "MSI",
        "OPTICAL",
        "S2MSI2A",
        "Level-2A",
        (109.8, 109.8),
        1.0,
        ("B02", "B03", "B04", "B08", "B11", "B12", "SCL"),
        True,
        10.0,
    ),
    Mission(
        SENTINEL2_L1C,
        0.25,
        ("Sentinel-2A", "Sentinel-2B"),
        "MSI",
        "OPTICAL",
        "S2MSI1C",
        "Level-1C",
        (109.8, 109.8),
        1.0,
        ("B02", "B03", "B04", "B08", "B11", "B12"),
        True,
        10.0,
    ),
    Mission(
        SENTINEL1_GRD,
        0.20,
        ("Sentinel-1A", "Sentinel-1B"),
        "C-SAR",
        "RADAR",
        "GRD",
        "Level-1",
        (250.0, 250.0),
        0.68,
        ("VV", "VH"),
        False,
        10.0,
    ),
    Mission(
        "landsat-c2-l2",
        0.15,
        ("Landsat-8", "Landsat-9"),
        "OLI",
        "OPTICAL",
        "L2SP",
        "Level-2",
        (185.0, 185.0),
        0.97,
        ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7"),
        True,
        30.0,
    ),
    Mission(
        "vhr-optical",
        0.05,
        ("SPOT-6", "SPOT-7"),
        "NAOMI",
        "OPTICAL",
        "ORTHO",
        "Level-3",
        (20.0, 60.0),
        1.2,
        ("PAN", "B0", "B1", "B2", "B3"),
        True,
        1.5,
    ),
)
_CUMULATIVE = [sum(m.share for m in MISSIONS[: i + 1]) for i in range(len(MISSIONS))]


def _mission(draw: float) -> Mission:
    for mission, bound in zip(MISSIONS, _CUMULATIVE, strict=True):
        if draw <= bound:
            return mission
    return MISSIONS[-1]


def _footprint(
    rng: random.Random, lon: float, lat: float, width_km: float, height_km: float, cut: bool
) -> list[tuple[float, float]]:
    """A tile in lon/lat: a parallelogram skewed like a UTM grid cell away from its
    central meridian; ``cut`` keeps only part of it (a swath edge crossing the tile)."""
    half_w = width_km / 2 / (KM_PER_DEGREE * math.cos(math.radians(lat)))
    half_h = height_km / 2 / KM_PER_DEGREE
    skew = ((lon % 6.0) - 3.0) / 3.0 * 0.08 * half_h  # grid convergence, degrees
    ring = [
        (lon - half_w - skew, lat - half_h),
        (lon + half_w - skew, lat - half_h),
        (lon + half_w + skew, lat + half_h),
        (lon - half_w + skew, lat + half_h),
    ]
    if cut:  # the swath edge runs diagonally: drop one corner region
        keep = rng.uniform(0.3, 0.8)
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = ring
        ring = [
            (x0, y0),
            (x0 + (x1 - x0) * keep, y0 + (y1 - y0) * keep),
            (x3 + (x2 - x3) * keep, y3 + (y2 - y3) * keep),
            (x3, y3),
        ]
    return ring


def synthetic_record(index: int, seed: int = 1, prefix: str = "") -> ProductRecord:
    """Record ``index`` of the synthetic archive ``seed`` (identifiers start with
    ``prefix``, so a second archive can hold different records)."""
    rng = random.Random(seed * 1_000_003 + index)
    mission = _mission(rng.random())
    west, south, east, north = EUROPE
    lon = rng.uniform(west, east)
    lat = rng.uniform(south, north)
    width = rng.uniform(*mission.size_km)
    cut = mission.collection in (SENTINEL2_L1C, SENTINEL2_L2A) and rng.random() < 0.33
    ring = _footprint(rng, lon, lat, width, width * mission.aspect, cut)
    xs, ys = [x for x, _ in ring], [y for _, y in ring]
    bbox = (
        round(min(xs), 6),
        round(min(ys), 6),
        round(max(xs), 6),
        round(max(ys), 6),
    )
    wkt = "POLYGON((" + ", ".join(f"{x:.6f} {y:.6f}" for x, y in [*ring, ring[0]]) + "))"
    day = rng.randrange(DAYS)
    local_hour = 10.5 if mission.optical else rng.choice((5.8, 17.3))
    start = (
        FIRST_DAY
        + timedelta(days=day, hours=local_hour - lon / 15.0)
        + timedelta(seconds=rng.randrange(600))
    ).replace(microsecond=0)
    end = start + timedelta(seconds=5 if mission.optical else 25)
    platform = rng.choice(mission.platforms)
    zone = int((lon + 180) // 6) + 1
    crs = f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"
    stamp = start.strftime("%Y%m%dT%H%M%S")
    extra: dict[str, object] = {}
    if mission.collection in (SENTINEL2_L1C, SENTINEL2_L2A):
        tile = f"{zone:02d}{'CDEFGHJKLMNPQRSTUVWX'[int((lat + 80) // 8)]}{rng.choice('ABCDEFGHJK')}{rng.choice('LMNPQRSTUV')}"
        orbit = rng.randrange(1, 144)
        extra = {"tile_id": tile, "orbit_number": orbit}
        name = f"S2{platform[-1]}_MSI{mission.level[-2:]}_{stamp}_R{orbit:03d}_T{tile}"
    elif mission.collection == SENTINEL1_GRD:
        orbit = rng.randrange(1, 176)
        direction = "ASCENDING" if local_hour > 12 else "DESCENDING"
        extra = {"orbit_number": orbit, "orbit_direction": direction}
        name = f"S1{platform[-1]}_IW_GRDH_1SDV_{stamp}_{orbit:03d}"
    else:
        path, row = rng.randrange(1, 234), rng.randrange(1, 249)
        extra = {"wrs_path": path, "wrs_row": row}
        name = f"{platform.replace('-', '')}_{mission.product_type}_{stamp}_{path:03d}{row:03d}"
    identifier = f"{prefix}{name}_{index:07d}"
    href = f"https://archive.example.eu/{mission.collection}/{start:%Y/%m/%d}/{identifier}.tif"
    extra["remote_assets"] = [
        {"href": href, "type": COG_MEDIA_TYPE, "title": "Analysis-ready COG", "roles": ["data"]}
    ]
    cloud = round(min(100.0, rng.expovariate(1 / 30.0)), 2) if mission.optical else None
    size_px = int(width * 1000 / mission.resolution)
    return ProductRecord(
        identifier=identifier,
        title=f"{mission.product_type} {platform} {start:%Y-%m-%d %H:%M} {lat:.1f}N {lon:.1f}E",
        collection=mission.collection,
        start=start,
        end=end,
        footprint_wkt=wkt,
        bbox=bbox,
        crs=crs,
        resolution=(mission.resolution, mission.resolution),
        width=size_px,
        height=int(size_px * mission.aspect),
        bands=[Band(name) for name in mission.bands],
        file_path="",
        file_size=0,
        platform=platform,
        instrument=mission.instrument,
        sensor_type=mission.sensor_type,
        product_type=mission.product_type,
        processing_level=mission.level,
        cloud_cover=cloud,
        source="synthetic archive (benchmarks/catalogue_data.py)",
        keywords=[mission.collection],
        extra=extra,
        updated=start + timedelta(days=1),
    )


def synthetic_records(
    count: int, seed: int = 1, prefix: str = "", first: int = 0
) -> Iterator[ProductRecord]:
    for index in range(first, first + count):
        yield synthetic_record(index, seed, prefix)
