"""Cloud shadows from sun geometry, matched as Fmask does (Zhu & Woodcock 2012): each
cloud object is moved away from the sun by the shadow offset of a range of cloud-height
candidates; the height whose footprint falls most on dark pixels outside clouds wins,
and the footprint there, where dark, is the object's shadow.

Sun angles come from the product (``sun_azimuth``/``sun_zenith`` metadata, or the
acquisition time and the scene centre through :func:`sun_position`); without either,
:func:`estimate_azimuth` finds the direction in which the clouds' footprints land on the
most dark pixels. The zenith only scales heights into offsets, and all heights from
200 m to 12 km are searched, so a rough zenith costs little.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
from scipy import ndimage

WORK_M = 60.0  # objects are matched on a grid of about this pixel size (speed)
HEIGHTS_M = (200.0, 12000.0)  # cloud heights searched (as Fmask)
MIN_MATCH = 0.3  # share of an object's projected footprint (outside clouds) that is dark
MIN_OBJECT_PX = 4  # objects smaller than this many work pixels cast no matched shadow
DEFAULT_ZENITH = 40.0


def sun_position(when: datetime, lon: float, lat: float) -> tuple[float, float]:
    """(azimuth clockwise from north, zenith) in degrees, NOAA's low-precision solar
    position formulas (about 0.5 degree; plenty for shadow offsets)."""
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    day = when.timetuple().tm_yday
    hours = when.hour + when.minute / 60 + when.second / 3600
    gamma = 2 * math.pi / 365 * (day - 1 + (hours - 12) / 24)
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    true_minutes = hours * 60 + eqtime + 4 * lon
    hour_angle = math.radians(true_minutes / 4 - 180)
    phi = math.radians(lat)
    cos_zenith = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(
        hour_angle
    )
    zenith = math.acos(max(-1.0, min(1.0, cos_zenith)))
    sin_az = -math.sin(hour_angle) * math.cos(decl) / max(math.sin(zenith), 1e-9)
    cos_az = (math.sin(decl) - math.sin(phi) * math.cos(zenith)) / max(
        math.cos(phi) * math.sin(zenith), 1e-9
    )
    azimuth = math.degrees(math.atan2(sin_az, cos_az)) % 360
    return azimuth, math.degrees(zenith)


def shadow_offset_px(
    height_m: float, azimuth_deg: float, zenith_deg: float, pixel_m: float
) -> tuple[int, int]:
    """(rows, cols) by which a cloud at ``height_m`` casts its shadow, away from the sun
    (azimuth clockwise from north; rows grow southwards, columns eastwards)."""
    distance = height_m * math.tan(math.radians(zenith_deg)) / pixel_m
    away = math.radians(azimuth_deg + 180.0)
    return int(round(-distance * math.cos(away))), int(round(distance * math.sin(away)))


def _shift(labels: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros_like(labels)
    h, w = labels.shape
    if abs(rows) >= h or abs(cols) >= w:
        return out
    out[max(rows, 0) : h + min(rows, 0), max(cols, 0) : w + min(cols, 0)] = labels[
        max(-rows, 0) : h + min(-rows, 0), max(-cols, 0) : w + min(-cols, 0)
    ]
    return out


def _block_share(mask: np.ndarray, factor: int) -> np.ndarray:
    """Share of True pixels in each ``factor`` x ``factor`` block (float32; edge blocks
    padded with False)."""
    if factor == 1:
        return mask.astype(np.float32)
    h, w = mask.shape
    ph, pw = -h % factor, -w % factor
    padded = np.pad(mask.astype(np.float32), ((0, ph), (0, pw)))
    return padded.reshape(padded.shape[0] // factor, factor, -1, factor).mean(axis=(1, 3))


@lru_cache(maxsize=64)
def _share_above(factor: int, threshold: float) -> np.ndarray:
    """Whether :func:`_block_share` of a block holding k True pixels is above
    ``threshold``, for k = 0 .. factor²: found with that function itself on one block
    per k (a share is a count of whole pixels over factor², so it depends on k alone)."""
    n = factor * factor
    blocks = np.zeros((factor, (n + 1) * factor), dtype=bool)
    for k in range(1, n + 1):
        blocks[:, k * factor : (k + 1) * factor].flat[:k] = True
    return np.asarray(_block_share(blocks, factor)[0] > threshold)


def _block_share_above(mask: np.ndarray, factor: int, threshold: float) -> np.ndarray:
    """``_block_share(mask, factor) > threshold``, from integer counts per block: the
    float copies and the padded float image of a full tile took ~0.3 s each, in the
    serial part of a cloud-mask job."""
    if factor == 1:
        return _block_share(mask, factor) > threshold
    h, w = mask.shape
    ph, pw = -h % factor, -w % factor
    ones = (mask if mask.dtype == bool else mask != 0).view(np.uint8)
    if ph or pw:
        ones = np.pad(ones, ((0, ph), (0, pw)))
    # rows of blocks first (whole image rows added: fast), then columns of the 1/factor
    columns = ones.reshape(-1, factor, ones.shape[1]).sum(axis=1, dtype=np.uint16)
    counts = columns.reshape(columns.shape[0], -1, factor).sum(axis=2, dtype=np.uint32)
    return _share_above(factor, float(threshold))[counts]


def _offsets(azimuth: float, zenith: float, work_m: float) -> list[tuple[int, int]]:
    low, high = HEIGHTS_M
    steps = max(2, int(high * math.tan(math.radians(zenith)) / work_m) + 1)
    seen: dict[tuple[int, int], None] = {}
    for height in np.linspace(low, high, steps):
        seen.setdefault(shadow_offset_px(float(height), azimuth, zenith, work_m), None)
    return [o for o in seen if o != (0, 0)]


def _best_offsets(
    labels: np.ndarray, count: int, cloud: np.ndarray, dark: np.ndarray, offsets: list
) -> tuple[np.ndarray, np.ndarray]:
    """Per object: the best match share and the index of its offset."""
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    best = np.zeros(count + 1)
    which = np.full(count + 1, -1)
    for index, (rows, cols) in enumerate(offsets):
        moved = _shift(labels, rows, cols)
        outside = (moved > 0) & ~cloud
        total = np.bincount(moved[outside], minlength=count + 1)
        hits = np.bincount(moved[outside & dark], minlength=count + 1)
        # a footprint mostly hidden under clouds or beyond the image proves nothing
        share = np.where(total >= np.maximum(sizes / 3, 1), hits / np.maximum(total, 1), 0)
        better = share > best
        best[better], which[better] = share[better], index
    best[0] = 0
    best[sizes < MIN_OBJECT_PX] = 0
    return best, which


def match_shadows(
    cloud: np.ndarray,
    dark: np.ndarray,
    pixel_m: float,
    azimuth: float,
    zenith: float = DEFAULT_ZENITH,
) -> np.ndarray:
    """Native-grid shadow mask: matched footprints (on the work grid, one work pixel
    grown) that are dark at native resolution and not cloud."""
    factor = max(1, round(WORK_M / max(pixel_m, 1e-6)))
    work_m = pixel_m * factor
    cloud_w = _block_share_above(cloud, factor, 0.5)
    dark_w = _block_share_above(dark, factor, 0.3)
    labels, count = ndimage.label(cloud_w, structure=np.ones((3, 3), bool))
    if count == 0:
        return np.zeros(cloud.shape, dtype=bool)
    offsets = _offsets(azimuth, zenith, work_m)
    best, which = _best_offsets(labels, count, cloud_w, dark_w, offsets)
    footprint = np.zeros(cloud_w.shape, dtype=bool)
    matched = best >= MIN_MATCH
    for index in np.unique(which[matched]):
        chosen = matched & (which == index)
        footprint |= _shift(np.where(chosen[labels], labels, 0), *offsets[index]) > 0
    footprint = ndimage.binary_dilation(footprint, iterations=1)
    native = np.repeat(np.repeat(footprint, factor, axis=0), factor, axis=1)
    native = native[: cloud.shape[0], : cloud.shape[1]]
    return native & dark & ~cloud


def estimate_azimuth(cloud: np.ndarray, dark: np.ndarray, pixel_m: float) -> float | None:
    """The sun azimuth (degrees, 10-degree steps) under which the clouds' footprints land
    on the most dark pixels; None when there is nothing to match."""
    factor = max(1, round(2 * WORK_M / max(pixel_m, 1e-6)))  # coarser: 36 directions
    work_m = pixel_m * factor
    cloud_w = _block_share_above(cloud, factor, 0.5)
    dark_w = _block_share_above(dark, factor, 0.3)
    labels, count = ndimage.label(cloud_w, structure=np.ones((3, 3), bool))
    if count == 0 or not dark_w.any():
        return None
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    scores = []
    for azimuth in range(0, 360, 10):
        best, _ = _best_offsets(
            labels, count, cloud_w, dark_w, _offsets(azimuth, DEFAULT_ZENITH, work_m)
        )
        scores.append(float((best * sizes)[best >= MIN_MATCH].sum()))
    if max(scores) <= 0:
        return None
    return float(10 * int(np.argmax(scores)))


def shadow_zone(
    cloud: np.ndarray,
    pixel_m: float,
    azimuth: float,
    zenith: float = DEFAULT_ZENITH,
    frame: bool = True,
) -> np.ndarray:
    """Where any cloud's shadow can fall: every cloud swept away from the sun over all
    height candidates (native grid, one work pixel of slack). Dark pixels outside it are
    not shadow, whatever their colour (lakes, forests, dark roofs)."""
    factor = max(1, round(WORK_M / max(pixel_m, 1e-6)))
    # clouds beyond the image edge cast shadows into it too: the frame counts as cloud
    cloud_w = np.pad(_block_share_above(cloud, factor, 0), 1, constant_values=frame)
    zone = cloud_w.copy()
    for rows, cols in _offsets(azimuth, zenith, pixel_m * factor):
        zone |= _shift(cloud_w, rows, cols)
    zone = ndimage.binary_dilation(zone, iterations=1)[1:-1, 1:-1]
    native = np.repeat(np.repeat(zone, factor, axis=0), factor, axis=1)
    return native[: cloud.shape[0], : cloud.shape[1]]
