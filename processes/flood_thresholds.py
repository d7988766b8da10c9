"""Split-based thresholding of SAR backscatter for flood mapping (Martinis et al. 2009,
2015): tile histograms, the tiles whose histogram is clearly bimodal (Ashman's D), the
Kittler-Illingworth and Otsu thresholds of their pooled histogram, plus the speckle
filter and the seeded region growing the S1 water map is built from. Histograms are
added up block by block, so a full tile never sits in memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import ndimage

from processes.raster_ops import bounded_histogram, otsu_of_histogram

HISTOGRAM_DB = (-35.0, 5.0)  # dB range of the tile histograms
HISTOGRAM_BINS = 160  # 0.25 dB bins
ASHMAN_D_MIN = 2.0  # two modes clearly apart (Ashman et al. 1994)
CLASS_SHARE_MIN = 0.1  # each mode holds at least this share of a tile
WATER_MEAN_MAX_DB = -15.0  # the dark mode of a selected tile must be dark enough to be water
TILE_MIN = 32  # tile side (px) bounds: enough pixels for a histogram


def speckle_filter(block_db: np.ndarray, window: int) -> np.ndarray:
    """Boxcar mean of a (band, y, x) dB block in linear power, ignoring NaNs; back to dB.
    A small window (3) calms speckle without erasing water bodies two pixels wide.
    float32 throughout; image edges mirrored (as scipy's ``uniform_filter``)."""
    if window <= 1:
        return block_db.astype(np.float32)
    linear = np.exp(block_db.astype(np.float32) * np.float32(np.log(10) / 10))
    valid = np.isfinite(linear)
    if valid.all():  # the usual block: every window holds window² values
        mean = box_sum(linear, window)
        mean *= np.float32(1 / window**2)
    else:
        summed = box_sum(np.where(valid, linear, np.float32(0)), window)
        counts = box_sum(valid.astype(np.float32), window)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(valid & (counts > 0), summed / counts, np.float32(np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(mean)
    out *= np.float32(10)
    return out


def box_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Sum over a window x window box around each pixel of a (band, y, x) float32
    array, edges mirrored: shifted-slice additions (window - 1 per axis), no Python loop
    over pixels."""
    half = window // 2
    padded = np.pad(values, ((0, 0), (half, half), (half, half)), mode="symmetric")
    h, w = values.shape[1:]
    rows = padded[:, :h].copy()
    for k in range(1, window):
        rows += padded[:, k : k + h]
    out = rows[:, :, :w].copy()
    for k in range(1, window):
        out += rows[:, :, k : k + w]
    return out


def dilate_cross(mask: np.ndarray, iterations: int) -> np.ndarray:
    """``scipy.ndimage.binary_dilation(mask, iterations=n)`` (4-neighbour cross,
    outside the array False): every pixel within ``n`` steps (Manhattan) of a True one,
    by shifted-slice ORs."""
    out = mask.copy()
    for _ in range(iterations):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def tile_side(shape: tuple[int, int]) -> int:
    return int(np.clip(min(shape) // 8, TILE_MIN, 256))


def block_histograms(
    offset: tuple[int, int],
    valid: np.ndarray,
    *bands: np.ndarray,
    tile: int,
) -> list[tuple[int, int, np.ndarray]]:
    """Per band of one block: (first tile row, first tile column, (tile rows, tile
    columns, bins) histograms of the tiles the block touches). Tiles cut by block edges
    are completed by the other blocks' shares when the caller adds them up."""
    row, col = offset
    h, w = valid.shape
    ty, tx = np.arange(row, row + h) // tile, np.arange(col, col + w) // tile
    ty0, tx0 = int(ty[0]), int(tx[0])
    nty, ntx = int(ty[-1]) - ty0 + 1, int(tx[-1]) - tx0 + 1
    # int32 throughout; a block without gaps (the usual one) is taken whole instead of
    # through a boolean index (same values, a third of the work)
    tiles = ((ty - ty0) * (ntx * HISTOGRAM_BINS)).astype(np.int32)[:, None] + (
        (tx - tx0) * HISTOGRAM_BINS
    ).astype(np.int32)[None, :]
    whole = bool(valid.all())
    if not whole:
        tiles = tiles[valid]
    low, high = HISTOGRAM_DB
    out = []
    for values in bands:
        scaled = (values if whole else values[valid]) - np.float32(low)
        scaled *= np.float32(HISTOGRAM_BINS / (high - low))
        np.clip(scaled, 0, HISTOGRAM_BINS - 1, out=scaled)
        index = scaled.astype(np.intp)  # bincount's own type: no conversion inside
        index += tiles
        counts = np.bincount(index.ravel(), minlength=nty * ntx * HISTOGRAM_BINS)
        out.append((ty0, tx0, counts.reshape(nty, ntx, HISTOGRAM_BINS)))
    return out


def bounded_histograms(
    _: tuple[int, int],
    valid: np.ndarray,
    *bands: np.ndarray,
    bounds: tuple[tuple[float, float], ...],
) -> list[np.ndarray]:
    return [bounded_histogram(v[valid], b) for v, b in zip(bands, bounds, strict=True)]


def tile_histograms(
    parts: list[tuple[int, int, np.ndarray]], shape: tuple[int, int], tile: int
) -> np.ndarray:
    """(tiles, bins) histograms of the whole image from the blocks' parts."""
    ny, nx = -(-shape[0] // tile), -(-shape[1] // tile)
    hist = np.zeros((ny, nx, HISTOGRAM_BINS), dtype=np.float64)
    for ty0, tx0, counts in parts:
        hist[ty0 : ty0 + counts.shape[0], tx0 : tx0 + counts.shape[1]] += counts
    return hist.reshape(ny * nx, HISTOGRAM_BINS)


def _two_class_rows(hist: np.ndarray, method: str = "ki") -> dict[str, np.ndarray]:
    """Threshold of each histogram row plus both classes' shares, means and stds.

    ``ki``: Kittler & Illingworth's minimum-error threshold (two Gaussians of their own
    widths; the split-based thresholding papers use it): unlike Otsu it does not sit
    half-way between a narrow water mode and a broad land mode, where dark dry fields
    live. ``otsu``: Otsu's between-class variance."""
    low, high = HISTOGRAM_DB
    width = (high - low) / HISTOGRAM_BINS
    centers = low + width * (np.arange(HISTOGRAM_BINS) + 0.5)
    total = np.maximum(hist.sum(axis=1, keepdims=True), 1)
    w1 = np.cumsum(hist, axis=1)
    s1, q1 = np.cumsum(hist * centers, axis=1), np.cumsum(hist * centers**2, axis=1)
    w2, s2, q2 = total - w1, s1[:, -1:] - s1, q1[:, -1:] - q1
    with np.errstate(divide="ignore", invalid="ignore"):
        m1, m2 = s1 / w1, s2 / w2
        v1 = np.maximum(q1 / w1 - m1**2, 0) + width**2 / 12
        v2 = np.maximum(q2 / w2 - m2**2, 0) + width**2 / 12
        if method == "otsu":
            score = np.nan_to_num(w1 * w2 * (m1 - m2) ** 2, nan=-1)
        else:
            p1, p2 = w1 / total, w2 / total
            error = p1 * np.log(v1) / 2 + p2 * np.log(v2) / 2 - p1 * np.log(p1) - p2 * np.log(p2)
            # a class of a handful of pixels is no class: keep each above 1 % of the row;
            # search below Otsu's split (the minimum error there is the water mode's edge;
            # above it KI may settle inside the land mode when dark dry fields widen it)
            otsu_k = np.argmax(np.nan_to_num(w1 * w2 * (m1 - m2) ** 2, nan=-1), axis=1)
            above = np.arange(hist.shape[1])[None, :] >= otsu_k[:, None]
            error[(p1 < 0.01) | (p2 < 0.01) | above] = np.inf
            score = -np.nan_to_num(error, nan=np.inf)
    k = np.argmax(score, axis=1)
    pick = np.arange(hist.shape[0]), k
    return {
        "threshold": low + width * (k + 1),
        "share1": w1[pick] / total[:, 0],
        "share2": w2[pick] / total[:, 0],
        "mean1": np.nan_to_num(m1[pick]),
        "mean2": np.nan_to_num(m2[pick]),
        "std1": np.sqrt(np.nan_to_num(v1[pick])),
        "std2": np.sqrt(np.nan_to_num(v2[pick])),
    }


def thresholds_from_histograms(
    hist: np.ndarray,
    whole: Callable[[], np.ndarray],
    tile: int,
    bounds: tuple[float, float],
    seed_max: float,
) -> tuple[float, float, dict[str, Any]]:
    """(seed, relaxed) scene thresholds from the tiles whose histogram is clearly bimodal
    (split-based thresholding after Martinis et al. 2009/2015): water is a few % of a
    scene, so a global histogram hides its mode; tiles at water edges show both modes.
    Tiles qualify when Ashman's D >= 2, each mode holds >= 10 % and the dark mode is
    below -15 dB. On the pooled histogram of those tiles, Kittler-Illingworth's
    minimum-error threshold (close under the narrow water mode: confident seeds) and
    Otsu's (half-way to the land mode: how far seeds may grow). Without such tiles: Otsu
    on the whole image's histogram within ``bounds`` (``whole()``: another pass, only
    then) for both.

    ``hist``: (tiles, bins) histograms of tile x tile pixel tiles; both are sums of
    per-block parts, so a chunked image gives the same numbers as an in-memory one."""
    stats = _two_class_rows(hist, "otsu")
    with np.errstate(divide="ignore", invalid="ignore"):
        ashman = (
            np.sqrt(2)
            * np.abs(stats["mean2"] - stats["mean1"])
            / np.hypot(stats["std1"], stats["std2"])
        )
    enough = hist.sum(axis=1) >= tile * tile / 4
    selected = (
        enough
        & (ashman >= ASHMAN_D_MIN)
        & (np.minimum(stats["share1"], stats["share2"]) >= CLASS_SHARE_MIN)
        & (stats["mean1"] <= WATER_MEAN_MAX_DB)
    )
    info: dict[str, Any] = {
        "tile_px": tile,
        "tiles": int(enough.sum()),
        "bimodal_tiles": int(selected.sum()),
    }
    if not selected.any():
        info["method"] = "global Otsu (no bimodal tile)"
        threshold = otsu_of_histogram(whole(), bounds)
        return min(threshold, seed_max), threshold, info
    pooled = hist[selected].sum(axis=0, keepdims=True)
    minimum_error, otsu = _two_class_rows(pooled, "ki"), _two_class_rows(pooled, "otsu")
    info["method"] = "split-based"
    info["water_mean_db"] = round(float(otsu["mean1"][0]), 2)
    info["land_mean_db"] = round(float(otsu["mean2"][0]), 2)
    relaxed = float(np.clip(otsu["threshold"][0], *bounds))
    seed = min(float(np.clip(minimum_error["threshold"][0], bounds[0], seed_max)), relaxed)
    return seed, relaxed, info


def split_based_thresholds(
    values: np.ndarray, valid: np.ndarray, bounds: tuple[float, float], seed_max: float
) -> tuple[float, float, dict[str, Any]]:
    """:func:`thresholds_from_histograms` of an in-memory (y, x) dB image."""
    tile = tile_side(values.shape)
    hist = tile_histograms(block_histograms((0, 0), valid, values, tile=tile), values.shape, tile)
    return thresholds_from_histograms(
        hist, lambda: bounded_histogram(values[valid], bounds), tile, bounds, seed_max
    )


def grow_regions(seeds: np.ndarray, candidates: np.ndarray, reach_px: int = 0) -> np.ndarray:
    """Connected regions (8-neighbourhood) of ``candidates`` that contain a seed; with
    ``reach_px``, only candidates within that many pixels of a seed. In memory: the
    reference the block-wise path (:func:`_s1_codes` + ``keep_seeded_components``)
    must equal."""
    if reach_px:
        candidates = candidates & ndimage.binary_dilation(seeds, iterations=reach_px)
    labels, count = ndimage.label(candidates | seeds, structure=np.ones((3, 3), bool))
    keep = np.zeros(count + 1, dtype=bool)
    keep[np.unique(labels[seeds])] = True
    keep[0] = False
    return keep[labels]
