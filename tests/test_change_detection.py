"""change-detection on small synthetic scenes with known answers (a planted changed
square, optical and SAR), inputs on other grids aligned onto the first, and the learned
model's training being reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from processes import classes
from processes.alignment import align_to_grid
from processes.base import Raster
from processes.change_detection import ChangeDetection
from processes.change_features import (
    block_features,
    feature_names,
    row_percentiles,
    scene_statistics,
)
from processes.change_model import ChangeModel, shipped_model
from processes.change_training import (
    City,
    best_decision,
    city_from_arrays,
    decision_counts,
    fit,
    predict_city,
    save_model,
    scores,
)
from processes.errors import ProcessInputError
from processes.registry import validate_inputs

UTM = "EPSG:32633"
ORIGIN = Affine(10, 0, 500000, 0, -10, 6500000)  # 10 m pixels
S2_SIX = ["B02", "B03", "B04", "B08", "B11", "B12"]
VEGETATION = (0.05, 0.08, 0.05, 0.35, 0.18, 0.09)
BARE_SOIL = (0.10, 0.13, 0.16, 0.24, 0.32, 0.26)
ROOF = (0.20, 0.20, 0.22, 0.25, 0.30, 0.28)
CLOUD = (0.55, 0.52, 0.50, 0.50, 0.45, 0.35)
SQUARE = (slice(30, 50), slice(40, 60))


class Context:
    def progress(self, percent: float, message: str = "") -> None:
        pass


def run(processor, raw):
    return processor.run(validate_inputs(processor.description, raw), Context())


def raster(values, names, *, chunks=None, crs=UTM, transform=ORIGIN, ids=("src",), nodata=None):
    data = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": names})
    if chunks:
        data = data.chunk({"band": 1, "y": chunks, "x": chunks})
    return Raster(data=data, crs=crs, transform=transform, nodata=nodata, source_ids=ids)


def landscape(size: int, rng: np.random.Generator) -> np.ndarray:
    """Fields of vegetation and bare soil in 16 px blocks, with texture noise."""
    blocks = rng.random((size // 16 + 1, size // 16 + 1)) < 0.5
    soil = np.kron(blocks, np.ones((16, 16), dtype=bool))[:size, :size]
    img = np.where(soil, np.array(BARE_SOIL)[:, None, None], np.array(VEGETATION)[:, None, None])
    return (img * (1 + rng.normal(0, 0.03, img.shape))).astype(np.float32)


def changed_pair(size: int = 96, chunks: int | None = None) -> tuple[Raster, Raster]:
    """Two dates of the same fields (the second a bit brighter and noisier) with one
    20 x 20 px square built up (a bright roof) in between."""
    rng = np.random.default_rng(3)
    before = landscape(size, rng)
    after = (before * 1.05 + rng.normal(0, 0.004, before.shape)).astype(np.float32)
    roof = np.array(ROOF, dtype=np.float32)[:, None, None]
    after[:, SQUARE[0], SQUARE[1]] = roof * (1 + rng.normal(0, 0.03, (6, 20, 20)))
    return (
        raster(before, S2_SIX, chunks=chunks, ids=("a",)),
        raster(after, S2_SIX, chunks=chunks, ids=("b",)),
    )


def test_learned_change_detection_finds_the_planted_square():
    before, after = changed_pair()
    out = run(ChangeDetection(), {"before": before, "after": after})
    change = out["change"].data.values[0]
    stats = out["statistics"]
    assert stats["method"] == "learned" and stats["threshold_method"] == "model"
    assert stats["threshold"] == pytest.approx(shipped_model().threshold)
    # the square's core is found, its rim mostly, little else beyond the reach of the
    # model's probability smoothing
    assert (change[32:48, 42:58] == classes.CHANGE).mean() > 0.95
    assert (change[SQUARE] == classes.CHANGE).mean() > 0.8
    reach = shipped_model().smoothing // 2
    outside = change == classes.CHANGE
    outside[
        SQUARE[0].start - reach : SQUARE[0].stop + reach,
        SQUARE[1].start - reach : SQUARE[1].stop + reach,
    ] = False
    assert outside.sum() < 0.01 * change.size, outside.sum()
    probability = out["magnitude"].data.values[0]
    assert 0 <= np.nanmin(probability) and np.nanmax(probability) <= 1
    assert out["magnitude"].metadata["style"] == "probability"  # published on the 0-1 ramp
    assert out["change"].source_ids == ("a", "b")
    # 6 bands of 10 m and no s2cloudless/SCL bands: clouds cannot be masked, and it says so
    assert "none" in stats["cloud_mask"]["before"]

    lazy = run(
        ChangeDetection(),
        {"before": changed_pair(chunks=32)[0], "after": changed_pair(chunks=32)[1]},
    )
    np.testing.assert_array_equal(lazy["change"].data.values, out["change"].data.values)
    np.testing.assert_allclose(lazy["magnitude"].data.values[0], probability, atol=1e-5)


def test_classic_cva_stays_selectable_and_honours_a_given_threshold():
    before, after = changed_pair()
    out = run(ChangeDetection(), {"before": before, "after": after, "method": "cva"})
    stats = out["statistics"]
    assert stats["method"] == "cva" and stats["threshold_method"] == "otsu"
    assert "style" not in out["magnitude"].metadata  # the output's declared magnitude ramp
    change = out["change"].data.values[0]
    # CVA finds the roof where it replaced vegetation (bare soil looks much like a roof)
    was_vegetation = before.data.values[3][SQUARE] > 0.3
    assert was_vegetation.sum() > 50
    assert (change[SQUARE][was_vegetation] == classes.CHANGE).all()
    everything = run(
        ChangeDetection(), {"before": before, "after": after, "method": "cva", "threshold": 0.0}
    )
    assert everything["statistics"]["changed_fraction"] == pytest.approx(1.0)
    nothing = run(ChangeDetection(), {"before": before, "after": after, "threshold": 1.0})
    assert nothing["statistics"]["changed_pixels"] == 0


def test_learned_method_says_which_bands_it_lacks():
    before, after = changed_pair()
    four = raster(after.data.values[:4], S2_SIX[:4])
    with pytest.raises(ProcessInputError, match="lacks the band.*swir1.*method=cva") as info:
        run(ChangeDetection(), {"before": before, "after": four})
    assert info.value.locator == "after"
    # the classic method works with the four common bands
    out = run(ChangeDetection(), {"before": before, "after": four, "method": "cva"})
    assert out["statistics"]["bands"] == ["blue", "green", "red", "nir"]


def test_bright_new_roof_is_not_masked_as_cloud_but_a_cloud_is():
    """With the bands s2cloudless needs, a thick cloud in 'after' is masked (nodata) and the
    bright new roof is not."""
    size = 160
    rng = np.random.default_rng(11)
    names = ["B01", "B02", "B03", "B04", "B05", "B08", "B8A", "B09", "B10", "B11", "B12"]
    six = landscape(size, rng)
    extra = {  # coastal, rededge1, nir08, water vapour, cirrus from their neighbours
        "B01": six[0],
        "B05": (six[2] + six[3]) / 2,
        "B8A": six[3],
        "B09": six[3] * 0.3,
        "B10": np.full((size, size), 0.002, np.float32),
    }
    order = {"B02": 0, "B03": 1, "B04": 2, "B08": 3, "B11": 4, "B12": 5}

    def stack(img: np.ndarray) -> np.ndarray:
        planes = {**extra, **{k: img[i] for k, i in order.items()}}
        return np.stack([planes[n] for n in names]).astype(np.float32)

    later = six.copy()
    later[:, 60:80, 60:80] = np.array(ROOF, dtype=np.float32)[:, None, None]
    cloudy = stack(later)
    cloud = (slice(100, 160), slice(0, 60))
    for band, value in zip(names, (0.5, 0.55, 0.52, 0.5, 0.5, 0.5, 0.5, 0.15, 0.05, 0.45, 0.35)):
        cloudy[names.index(band)][cloud] = value
    out = run(
        ChangeDetection(),
        {"before": raster(stack(six), names), "after": raster(cloudy, names)},
    )
    change = out["change"].data.values[0]
    assert out["statistics"]["cloud_mask"] == {"before": "s2cloudless", "after": "s2cloudless"}
    assert (change[cloud] == classes.NODATA).mean() > 0.9
    assert (change[60:80, 60:80] == classes.CHANGE).mean() > 0.9


def sar_pair(size: int = 96):
    rng = np.random.default_rng(4)
    # speckle-like noise: gamma-distributed intensity (4 looks) on a -9 / -15 dB background
    base = np.stack([np.full((size, size), -9.0), np.full((size, size), -15.0)])
    noise = lambda: 10 * np.log10(rng.gamma(4, 1 / 4, (2, size, size)))  # noqa: E731
    before = (base + noise()).astype(np.float32)
    later_base = base.copy()
    later_base[:, 30:50, 40:60] += 6.0  # +6 dB: a new building / cleared forest
    after = (later_base + noise()).astype(np.float32)
    return raster(before, ["VV", "VH"]), raster(after, ["VV", "VH"])


def test_sar_change_from_the_robust_no_change_spread():
    before, after = sar_pair()
    out = run(ChangeDetection(), {"before": before, "after": after})
    stats = out["statistics"]
    assert stats["kind"] == "sar" and stats["method"] == "robust log-ratio"
    assert stats["threshold_method"] == "robust no-change spread"
    change = out["change"].data.values[0]
    assert (change[32:48, 42:58] == classes.CHANGE).all()
    outside = change == classes.CHANGE
    outside[28:52, 38:62] = False
    assert outside.sum() < 0.005 * change.size
    assert stats["no_change_db"]["VV"]["median"] == pytest.approx(0.0, abs=0.3)
    classic = run(ChangeDetection(), {"before": before, "after": after, "method": "cva"})
    assert classic["statistics"]["threshold_method"] == "otsu"
    with pytest.raises(ProcessInputError, match="no learned SAR") as info:
        run(ChangeDetection(), {"before": before, "after": after, "method": "learned"})
    assert info.value.locator == "method"


def test_sar_given_threshold_and_linear_units():
    rng = np.random.default_rng(4)
    vv = -9 + rng.normal(0, 0.3, (2, 64, 64)).astype(np.float32)
    vv[1] = -15 + rng.normal(0, 0.3, (64, 64))
    later = vv.copy()
    later[:, 10:26, 20:36] += 6.0
    db = run(
        ChangeDetection(),
        {
            "before": raster(vv, ["VV", "VH"]),
            "after": raster(later, ["VV", "VH"]),
            "speckle_window": 1,
            "threshold": 3.0,
        },
    )
    change = db["change"].data.values[0]
    assert (change == classes.CHANGE).sum() == 256 and (change[10:26, 20:36] == 2).all()
    assert db["magnitude"].data.values[0][10:26, 20:36] == pytest.approx(6.0, abs=1e-3)
    linear = run(
        ChangeDetection(),
        {
            "before": raster(10 ** (vv / 10), ["VV", "VH"]),
            "after": raster(10 ** (later / 10), ["VV", "VH"]),
            "speckle_window": 1,
            "sar_units": "linear",
            "threshold": 3.0,
        },
    )
    np.testing.assert_array_equal(linear["change"].data.values, db["change"].data.values)


# --- inputs on other grids -------------------------------------------------------------


def test_after_on_another_crs_and_pixel_size_is_aligned_onto_before():
    """'after' given at 20 m in UTM 32N (the neighbouring zone) is warped onto the 10 m
    UTM 33N grid of 'before'; the planted square is still found where it is."""
    before, _ = changed_pair()
    from rasterio.warp import reproject  # noqa: PLC0415  (test-only helper use)

    _, after10 = changed_pair()
    # Build the 20 m UTM 32N version of 'after' with GDAL, covering more than 'before'.
    dst_crs = "EPSG:32632"
    from rasterio.warp import calculate_default_transform

    transform, width, height = calculate_default_transform(
        UTM, dst_crs, 96, 96, 500000, 6500000 - 960, 500000 + 960, 6500000, resolution=20
    )
    width, height = width + 4, height + 4
    transform = transform @ Affine.translation(-2, -2)
    values = np.full((6, height, width), np.nan, np.float32)
    for i in range(6):
        reproject(
            after10.data.values[i],
            values[i],
            src_transform=ORIGIN,
            src_crs=UTM,
            dst_transform=transform,
            dst_crs=dst_crs,
            src_nodata=np.nan,
            dst_nodata=np.nan,
        )
    other = raster(values, S2_SIX, crs=dst_crs, transform=transform, ids=("b",))
    aligned = align_to_grid(other, before, "after", "before")
    assert aligned.crs == UTM and aligned.transform == before.transform
    assert aligned.data.shape == before.data.shape and aligned.data.dtype == np.float32
    assert aligned.metadata["aligned_to"] == "before"
    # a square of 20 x 20 px at 10 m survives a 20 m round trip as ~ 18 x 18 px
    roof = aligned.data.values[:, 33:47, 43:57].mean(axis=(1, 2))
    np.testing.assert_allclose(roof, ROOF, atol=0.01)

    out = run(ChangeDetection(), {"before": before, "after": other})
    change = out["change"].data.values[0]
    assert (change[33:47, 43:57] == classes.CHANGE).mean() > 0.8
    assert out["change"].crs == UTM and out["change"].transform == before.transform

    lazy = align_to_grid(
        raster(values, S2_SIX, crs=dst_crs, transform=transform, chunks=16),
        raster(before.data.values, S2_SIX, chunks=32),
        "after",
        "before",
    )
    # GDAL approximates the transformation per chunk (error < 0.125 px): tiny differences
    np.testing.assert_allclose(lazy.data.values, aligned.data.values, atol=1e-4)


def test_partial_overlap_leaves_nodata_and_no_overlap_is_refused():
    before, after = changed_pair()
    shifted = raster(
        after.data.values, S2_SIX, transform=Affine(10, 0, 500000 + 480, 0, -10, 6500000)
    )
    out = run(ChangeDetection(), {"before": before, "after": shifted, "method": "cva"})
    change = out["change"].data.values[0]
    assert (change[:, :48] == classes.NODATA).all() and (change[:, 48:] != classes.NODATA).all()
    far = raster(after.data.values, S2_SIX, transform=Affine(10, 0, 900000, 0, -10, 6500000))
    with pytest.raises(ProcessInputError, match="does not overlap") as info:
        run(ChangeDetection(), {"before": before, "after": far})
    assert info.value.locator == "after"


def test_class_bands_are_aligned_with_nearest_and_nodata_becomes_nan():
    scl = np.array([[[4, 8], [9, 4]]], dtype=np.uint8).repeat(8, axis=1).repeat(8, axis=2)
    coarse = raster(scl, ["SCL"], transform=Affine(20, 0, 500000, 0, -20, 6500000), nodata=0)
    target = raster(np.zeros((1, 32, 32), np.float32), ["B02"])
    aligned = align_to_grid(coarse, target, "after", "before").data.values[0]
    assert set(np.unique(aligned[np.isfinite(aligned)])) <= {4.0, 8.0, 9.0}
    holes = scl.copy()
    holes[0, :4] = 0
    aligned = align_to_grid(
        raster(holes, ["SCL"], transform=coarse.transform, nodata=0), target, "a", "b"
    ).data.values[0]
    assert np.isnan(aligned[:8]).all() and np.isfinite(aligned[8:]).all()


# --- features and training -------------------------------------------------------------


def test_features_are_finite_and_chunk_independent():
    before, after = changed_pair(64)
    stats = scene_statistics(before.data, after.data)
    stack = np.concatenate([before.data.values, after.data.values])
    full = block_features(stack, stats)
    assert full.shape == (len(feature_names()), 64, 64) and np.isfinite(full).all()
    stack[:, 5, 5] = np.nan
    assert np.isnan(block_features(stack, stats)[:, 5, 5]).all()


def synthetic_city(name: str, seed: int, size: int = 64) -> City:
    """Fields seen twice (another gain, independent texture noise) with three 8 x 8 px
    roofs built in between."""
    rng = np.random.default_rng(seed)
    before = landscape(size, rng)
    gain = rng.uniform(0.95, 1.1)
    after = (before * gain * (1 + rng.normal(0, 0.03, before.shape))).astype(np.float32)
    label = np.ones((size, size), np.uint8)
    roof = np.array(ROOF, np.float32)[:, None, None]
    for _ in range(3):
        r, c = rng.integers(0, size - 10, 2)
        after[:, r : r + 8, c : c + 8] = roof * (1 + rng.normal(0, 0.03, (6, 8, 8)))
        label[r : r + 8, c : c + 8] = 2
    return city_from_arrays(name, before, after, label)


def test_training_is_reproducible_and_learns_the_synthetic_change(tmp_path):
    cities = [synthetic_city(n, s) for n, s in (("north", 1), ("south", 2), ("east", 3))]
    first = fit(cities, seed=7, per_class=500)
    save_model(first, tmp_path / "a.txt", tmp_path / "a.json")
    save_model(fit(cities, seed=7, per_class=500), tmp_path / "b.txt", tmp_path / "b.json")
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    save_model(fit(cities, seed=8, per_class=500), tmp_path / "c.txt", tmp_path / "c.json")
    assert (tmp_path / "a.txt").read_bytes() != (tmp_path / "c.txt").read_bytes()
    assert first.metadata["training_cities"] == ["east", "north", "south"]

    unseen = synthetic_city("west", 4)
    probability = np.nan_to_num(first.decide(predict_city(first.booster, unseen)), nan=0.0)
    predicted = probability > first.threshold
    tp = (predicted & unseen.label).sum()
    assert tp / unseen.label.sum() > 0.8 and tp / predicted.sum() > 0.8


def test_l2a_inputs_mask_clouds_with_their_scl_band():
    before, after = changed_pair()
    scl = np.full((1, 96, 96), 4, np.float32)  # 4: vegetation
    cloudy = scl.copy()
    cloudy[0, 70:90, 10:30] = 9  # cloud, high probability
    names = [*S2_SIX, "SCL"]
    out = run(
        ChangeDetection(),
        {
            "before": raster(np.concatenate([before.data.values, scl]), names),
            "after": raster(np.concatenate([after.data.values, cloudy]), names),
        },
    )
    change = out["change"].data.values[0]
    assert out["statistics"]["cloud_mask"] == {"before": "scl", "after": "scl"}
    assert (change[70:90, 10:30] == classes.NODATA).all()
    assert (change != classes.NODATA).sum() == 96 * 96 - 400
    assert (change[32:48, 42:58] == classes.CHANGE).mean() > 0.95


def test_decision_smooths_speckle_when_that_scores_better():
    """Inner cross-validation picks the probability smoothing too: with isolated false
    alarms around a changed block, averaging wins over the bare threshold."""
    rng = np.random.default_rng(5)
    cities, probabilities = [], []
    for name in ("a", "b"):
        label = np.ones((60, 60), np.uint8)
        label[20:40, 20:40] = 2
        probability = np.where(label == 2, 0.8, 0.1).astype(np.float32)
        speckle = rng.random((60, 60)) < 0.05
        probability[speckle & (label == 1)] = 0.9
        valid = np.ones((60, 60), bool)
        cities.append(City(name, np.zeros((1, 60, 60), np.float32), label == 2, valid))
        probabilities.append(probability)
    smoothing, threshold, f1 = best_decision(probabilities, cities)
    assert smoothing > 1 and f1 > 0.95
    model = ChangeModel(None, threshold, {}, smoothing)
    assert scores(decision_counts(model, probabilities[0], cities[0]))["f1"] > 0.95


def test_chunked_learned_path_takes_a_cloud_mask_in_other_chunks(monkeypatch):
    """s2cloudless masks come on their own (coarser) chunks: the chunk sample the
    statistics are taken from must see the same windows of data and mask."""
    from processes import change_detection

    def mask_in_other_chunks(raster, valid, locator, pixel_m):
        return valid.chunk({"y": 24, "x": 24}), "a mask in 24 px chunks"

    before, after = changed_pair(chunks=16)
    same = run(ChangeDetection(), {"before": before, "after": after})
    monkeypatch.setattr(change_detection, "_cloud_free", mask_in_other_chunks)
    other = run(ChangeDetection(), {"before": before, "after": after})
    assert other["statistics"]["cloud_mask"]["before"] == "a mask in 24 px chunks"
    np.testing.assert_array_equal(other["change"].data.values, same["change"].data.values)


def test_chunk_sample_statistics_computed_block_wise_equal_the_gathered_sample():
    """The statistics of a full tile's chunk sample are computed where its chunks are
    (every n-th valid pixel picked per strip, features per tile): they must equal, to
    the bit, those of the whole sample gathered in one process. A sample over one
    tile (1024 px: features strided) with > 400 000 valid pixels (every n-th taken),
    gaps without data and cloud holes (ranks that do not start a strip at 0)."""
    import dask.array as dsa

    from processes.change_detection import sample_statistics
    from processes.change_features import feature_statistics, sample_chunks

    rng = np.random.default_rng(5)
    size = 1040
    first = landscape(size, rng)
    second = (first * 1.05 + rng.normal(0, 0.01, first.shape)).astype(np.float32)
    stack = np.concatenate([first, second])
    stack[:, rng.random((size, size)) < 0.02] = np.nan  # no data on both dates
    stack[:6, 100:140, 200:300] = np.nan  # no data on the first date only
    clear = rng.random((1, size, size)) > 0.05
    clear[:, 500:700, 10:900] = False  # a cloud
    data = dsa.from_array(stack, chunks=(12, 260, 260))
    valid = dsa.from_array(clear, chunks=(1, 130, 130))  # the mask on other chunks
    sample = sample_chunks(data)
    sample_valid = sample_chunks(valid.rechunk((1, *data.chunks[1:])))
    gathered, gathered_valid = np.asarray(sample.compute()), np.asarray(sample_valid.compute())
    assert gathered.shape == (12, size, size)
    expected_stats = scene_statistics(
        xr.DataArray(gathered[:6], dims=("band", "y", "x")),
        xr.DataArray(gathered[6:], dims=("band", "y", "x")),
    )
    masked = np.where(gathered_valid, gathered, np.nan).astype(np.float32)
    kept = [  # the features of 1024 px tiles, every 4th pixel, as one process takes them
        block_features(masked[:, row : row + 1024, col : col + 1024], expected_stats)[
            :, ::4, ::4
        ].reshape(len(feature_names()), -1)
        for row in range(0, size, 1024)
        for col in range(0, size, 1024)
    ]
    expected_features = feature_statistics(np.concatenate(kept, axis=1)[:, np.newaxis])
    stats, feature_stats = sample_statistics(sample, sample_valid, Context())
    assert stats.tobytes() == expected_stats.tobytes()
    assert feature_stats.tobytes() == expected_features.tobytes()


def test_percentiles_of_rows_in_threads_equal_numpys():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(13, 200_003)).astype(np.float32)
    values[3] = np.round(values[3])  # ties
    expected = np.percentile(values, [25, 50, 75], axis=1)
    got = row_percentiles(values, [25, 50, 75])
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
