"""Per-pixel features with spatial context for learned optical change detection.

The input of :func:`block_features` is one (12, y, x) float32 block: six reflectance bands
(blue, green, red, nir, swir1, swir2) of the earlier date, then the same six of the later
date, NaN where invalid. Both dates are first standardised band by band with robust
statistics of the whole scene (median and interquartile range over pixels valid on both
dates, :func:`scene_statistics`), which removes most calibration, season and atmosphere
differences between the dates and between L1C and L2A inputs. Then:

- per band: standardised difference and log-ratio of reflectance;
- spectral indices of both dates and their differences (NDVI, NDBI, MNDWI, brightness);
- change-vector magnitude and its excess over the 61 px neighbourhood mean;
- multi-scale context: means of the band differences and of the magnitude over 3, 7, 15
  and 31 px windows (30 m to 300 m: a house to a construction site), and the local
  standard deviation (texture) of brightness at both dates.

Each feature is then taken relative to its own scene (:func:`normalise`: minus the scene
median, over the scene interquartile range): what "a lot of change" is differs between
city pairs, and this is what lets a model trained on some cities transfer to others.

Everything is vectorised (scipy uniform filters); the neighbourhood reach is
:data:`FEATURE_REACH` pixels, so a dask run with that halo equals the in-memory run.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr
from scipy import ndimage

FEATURE_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
SCALES = (3, 7, 15, 31)
CONTEXT_WINDOW = 61
FEATURE_REACH = CONTEXT_WINDOW // 2 + 1
LOG_EPS = np.float32(0.01)  # reflectance offset of the log-ratios (dark water, shadows)
_INDICES = ("ndvi", "ndbi", "mndwi", "brightness")
_SAMPLE_VALUES = 400_000  # pixels per band the scene statistics are computed on
_THREADS = min(len(os.sched_getaffinity(0)), 4)  # for the percentiles of large samples
_THREADED_VALUES = 1_000_000  # below this many values one thread is as fast


def _names() -> list[str]:
    names = [f"diff_{b}" for b in FEATURE_BANDS] + [f"logratio_{b}" for b in FEATURE_BANDS]
    for index in _INDICES:
        names += [f"{index}_1", f"{index}_2", f"{index}_diff"]
    names += ["magnitude", "magnitude_excess"]
    for size in SCALES:
        names += [f"mean{size}_diff_{b}" for b in FEATURE_BANDS]
        names += [f"mean{size}_magnitude", f"std{size}_brightness_1", f"std{size}_brightness_2"]
    return names


N_FEATURES = len(_names())


def feature_names() -> list[str]:
    """Names of the feature planes in the order :func:`block_features` returns them."""
    return _names()


def _ratio(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(a - b, a + b, out=out)
    np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


def _indices(x: np.ndarray, out: np.ndarray) -> None:
    """NDVI, NDBI, MNDWI and brightness of a (6, y, x) block into out[0:4]."""
    blue, green, red, nir, swir1, swir2 = x
    _ratio(nir, red, out[0])
    _ratio(swir1, nir, out[1])
    _ratio(green, swir1, out[2])
    np.mean(x, axis=0, out=out[3])


def _mean(plane: np.ndarray, size: int, out: np.ndarray | None = None) -> np.ndarray:
    return ndimage.uniform_filter(plane, size=size, mode="nearest", output=out)


def _local_std(plane: np.ndarray, square: np.ndarray, size: int, out: np.ndarray) -> None:
    """Local standard deviation of ``plane`` (``square`` is plane * plane)."""
    mean = _mean(plane, size)
    _mean(square, size, out)
    mean *= mean
    out -= mean
    np.sqrt(np.maximum(out, 0, out=out), out=out)


def block_features(block: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """(F, y, x) float32 features of a (12, y, x) reflectance block; ``stats`` is the
    (2, 12) array of per-band centre and scale from :func:`scene_statistics`. Invalid
    pixels get NaN in every feature."""
    block = np.asarray(block, dtype=np.float32)
    valid = np.isfinite(block).all(axis=0)
    center = stats[0].astype(np.float32)[:, None, None]
    scale = stats[1].astype(np.float32)[:, None, None]
    # Invalid pixels take the scene median: neutral for the neighbourhood means.
    # (Written into few, reused buffers: on a full tile the features' memory traffic
    # costs as much as their arithmetic.)
    x = np.where(valid, block, center)
    out = np.empty((N_FEATURES, *block.shape[1:]), dtype=np.float32)
    diff = out[0:6]
    work = np.subtract(x, center)
    work /= scale  # standardised reflectance
    np.subtract(work[6:], work[:6], out=diff)
    np.maximum(x, 0, out=x)
    np.add(x, LOG_EPS, out=work)
    np.divide(work[6:], work[:6], out=out[6:12])
    np.log(out[6:12], out=out[6:12])
    del work
    index1, index2 = out[12:24:3], out[13:24:3]  # per index: date 1, date 2, difference
    _indices(x[:6], index1)
    _indices(x[6:], index2)
    np.subtract(index2, index1, out=out[14:24:3])
    magnitude = out[24]
    np.sqrt((diff * diff).mean(axis=0), out=magnitude)
    np.subtract(magnitude, _mean(magnitude, CONTEXT_WINDOW), out=out[25])
    brightness = (index1[3], index2[3])
    squares = [b * b for b in brightness]
    i = 26
    for size in SCALES:
        for d in diff:
            _mean(d, size, out[i])
            i += 1
        _mean(magnitude, size, out[i])
        for k in (0, 1):
            _local_std(brightness[k], squares[k], size, out[i + 1 + k])
        i += 3
    if not valid.all():
        out[:, ~valid] = np.nan
    return out


def feature_statistics(features: np.ndarray) -> np.ndarray:
    """(2, F) median and interquartile range of each feature over the valid pixels of a
    scene (or a sample of it)."""
    return _robust(features.reshape(features.shape[0], -1), iqr_only=True)


def normalise(features: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """Features relative to their own scene: (value - median) / IQR, in place. What is
    "much change" differs between cities (season gap, misregistration, land cover); the
    scene's own spread is what makes a model trained on some cities transfer to others."""
    features -= stats[0].astype(np.float32)[:, None, None]
    features /= stats[1].astype(np.float32)[:, None, None]
    return features


def sampled_feature_statistics(
    sample: np.ndarray, stats: np.ndarray, tile: int = 1024, stride: int = 4
) -> np.ndarray:
    """:func:`feature_statistics` of a large (12, y, x) sample (the chunks of
    :func:`sample_chunks`), with features computed tile by tile and every ``stride``-th
    pixel kept: the features of a whole 4096 x 4096 sample at once would take ~4 GiB.
    A chunked run computes the same tiles on its cluster (:func:`sample_tiles`,
    :func:`tile_feature_values`) and reduces them here (:func:`quartiles_of_values`)."""
    stride = sample_stride(sample.shape, tile, stride)
    kept = [
        tile_feature_values(sample[:, rows, cols], stats, stride)
        for rows, cols in sample_tiles(sample.shape, tile)
    ]
    return quartiles_of_values(kept, iqr_only=True)


def sample_stride(shape: tuple[int, ...], tile: int = 1024, stride: int = 4) -> int:
    """The pixel stride of :func:`sampled_feature_statistics` for a sample of ``shape``:
    a sample of one tile is taken whole (exactly the in-memory statistics)."""
    return 1 if shape[1] <= tile and shape[2] <= tile else stride


def sample_tiles(shape: tuple[int, ...], tile: int = 1024) -> list[tuple[slice, slice]]:
    """(rows, columns) of the tiles of a (band, y, x) sample, row by row."""
    return [
        (slice(row, row + tile), slice(col, col + tile))
        for row in range(0, shape[1], tile)
        for col in range(0, shape[2], tile)
    ]


def tile_feature_values(block: np.ndarray, stats: np.ndarray, stride: int) -> np.ndarray:
    """(F, n): the features of every ``stride``-th pixel of a (12, y, x) tile, row-major,
    those finite in every feature."""
    features = block_features(block, stats)[:, ::stride, ::stride]
    return _finite_columns(features.reshape(len(features), -1))


def _finite_columns(flat: np.ndarray) -> np.ndarray:
    return flat[:, np.isfinite(flat).all(axis=0)]


def _sample_step(valid_values: int) -> int:
    """Every how many-th valid value the robust statistics take (about _SAMPLE_VALUES)."""
    return max(1, valid_values // _SAMPLE_VALUES)


def valid_per_row(strip: np.ndarray) -> np.ndarray:
    """How many pixels of each row of a (band, y, x) strip are finite in every band."""
    return np.count_nonzero(np.isfinite(strip).all(axis=0), axis=1)


def every_nth_valid(strip: np.ndarray, first_rank: int, valid_values: int) -> np.ndarray:
    """(band, k): the pixels of a (band, y, x) strip that :func:`_robust` takes from an
    image of ``valid_values`` valid pixels (finite in every band), when ``first_rank``
    valid pixels (row-major) come before the strip. Over the strips of an image, in
    order, they are exactly what :func:`_robust` takes from the whole image."""
    step = _sample_step(valid_values)
    valid = _finite_columns(strip.reshape(len(strip), -1))
    return valid[:, (-first_rank) % step :: step]


def quartiles_of_values(parts: list[np.ndarray], iqr_only: bool = False) -> np.ndarray:
    """:func:`_robust` of the values whose finite columns are ``parts`` (in order)."""
    values = np.concatenate(parts, axis=1)
    return quartiles(values[:, :: _sample_step(values.shape[1])], iqr_only)


def _robust(flat: np.ndarray, iqr_only: bool = False) -> np.ndarray:
    """(2, n) median and interquartile range (/ 1.349 unless ``iqr_only``: the standard
    deviation of a normal distribution with that IQR) of each row of ``flat`` over the
    columns finite in every row, every :func:`_sample_step`-th of them; 0 and 1
    without any."""
    flat = _finite_columns(flat)
    return quartiles(flat[:, :: _sample_step(flat.shape[1])], iqr_only)


def row_percentiles(values: np.ndarray, q: list[float]) -> np.ndarray:
    """``np.percentile(values, q, axis=1)`` of a 2-D array, its rows split among
    threads (numpy partitions without the GIL; each row's percentiles are computed as
    on the whole array, so the values are the same): a full tile's sample statistics
    took ~1.7 s in one thread, a step in which no worker computes."""
    threads = min(_THREADS, len(values))
    if threads <= 1 or values.size < _THREADED_VALUES:
        return np.asarray(np.percentile(values, q, axis=1))
    bounds = np.linspace(0, len(values), threads + 1).round().astype(int)
    with ThreadPoolExecutor(threads) as pool:
        parts = pool.map(
            lambda rows: np.percentile(values[rows[0] : rows[1]], q, axis=1),
            zip(bounds[:-1], bounds[1:], strict=True),
        )
        return np.concatenate(list(parts), axis=1)


def quartiles(selected: np.ndarray, iqr_only: bool = False) -> np.ndarray:
    """(2, n) statistics of :func:`_robust` of the values it selected (``selected``)."""
    if selected.shape[1] == 0:
        return np.stack([np.zeros(len(selected)), np.ones(len(selected))]).astype(np.float32)
    q25, q50, q75 = row_percentiles(selected, [25, 50, 75])
    scale = (q75 - q25) if iqr_only else (q75 - q25) / 1.349
    return np.stack([q50, np.where(scale > 1e-6, scale, 1.0)]).astype(np.float32)


def scene_statistics(before: xr.DataArray, after: xr.DataArray) -> np.ndarray:
    """(2, 12) robust centre (median) and scale (interquartile range / 1.349) of each band
    of both dates over pixels valid on both. Dask-backed inputs are sampled on up to 4 x 4
    evenly spread chunks (about an eighth of a full tile is read twice, not all of it)."""
    stack = xr.concat([before, after], dim="band")
    data = stack.data
    if isinstance(data, dsa.Array):
        data = sample_chunks(data)
    values = np.asarray(data.compute() if isinstance(data, dsa.Array) else data, np.float32)
    return _robust(values.reshape(values.shape[0], -1))


def sample_chunks(data: Any, per_axis: int = 4) -> Any:
    """The chunks at up to ``per_axis`` evenly spaced chunk rows and columns, concatenated."""
    picks = []
    for axis in (1, 2):
        bounds = np.cumsum((0, *data.chunks[axis]))
        n = len(data.chunks[axis])
        chosen = sorted({int(round(i)) for i in np.linspace(0, n - 1, min(per_axis, n))})
        picks.append([(int(bounds[i]), int(bounds[i + 1])) for i in chosen])
    rows = [
        dsa.concatenate([data[:, r0:r1, c0:c1] for c0, c1 in picks[1]], axis=2)
        for r0, r1 in picks[0]
    ]
    return dsa.concatenate(rows, axis=1)
