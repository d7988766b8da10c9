"""Compiled LightGBM prediction (lleaves) gives LightGBM's own answers, early stopping
included, and falls back to LightGBM when it cannot compile."""

from __future__ import annotations

import os

import lightgbm
import numpy as np
import pytest

from processes import compiled_trees

PARAMS = {"num_leaves": 8, "learning_rate": 0.3, "verbose": -1, "num_threads": 1, "seed": 1}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OGCSDL_MODEL_CACHE", str(tmp_path / "compiled"))


def _data(classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4000, 6)).astype(np.float32)
    score = x[:, 0] + 0.5 * x[:, 1] * x[:, 2] + 0.3 * rng.standard_normal(4000)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))
    return x, y


def _binary() -> lightgbm.Booster:
    x, y = _data(2)
    params = {**PARAMS, "objective": "binary"}
    return lightgbm.train(params, lightgbm.Dataset(x, y), num_boost_round=30)


def test_early_stopped_prediction_equals_lightgbms_and_stops_some_rows():
    booster = _binary()
    rows, _ = _data(2)
    expected = booster.predict(
        rows, num_threads=1, pred_early_stop=True, pred_early_stop_freq=5, pred_early_stop_margin=3
    )
    columns = np.ascontiguousarray(rows.T)  # features by pixel, as the processors hold them
    compiled = compiled_trees.predict_early_stopped(booster, columns, 5, 3.0, compiled=True)
    assert compiled_trees._stages(booster, 5) is not None  # it really ran compiled
    np.testing.assert_allclose(compiled, expected, rtol=0, atol=1e-12)
    # the rule matters here: stopping early changed some rows' answers
    assert np.abs(booster.predict(rows, num_threads=1) - expected).max() > 0.05
    fallback = compiled_trees.predict_early_stopped(booster, columns, 5, 3.0, compiled=False)
    np.testing.assert_array_equal(fallback, expected)
    assert list((compiled_trees.cache_dir()).glob("*.o"))  # the stages were cached on disk


def test_multiclass_prediction_equals_lightgbms_and_loads_from_the_disk_cache():
    x, y = _data(3)
    params = {**PARAMS, "objective": "multiclass", "num_class": 3}
    booster = lightgbm.train(params, lightgbm.Dataset(x, y), num_boost_round=8)
    expected = booster.predict(x, num_threads=1)
    first = compiled_trees.predict(booster, x.T, compiled=True)
    np.testing.assert_allclose(first, expected, rtol=0, atol=1e-12)
    (cached,) = compiled_trees.cache_dir().glob("*.o")
    written = cached.stat().st_ino
    os.utime(cached, (1, 1))
    # another process (a second worker) with the same model loads the object, no compile
    again = lightgbm.Booster(model_str=booster.model_to_string())
    np.testing.assert_array_equal(compiled_trees.predict(again, x.T, compiled=True), first)
    assert cached.stat().st_ino == written and list(cached.parent.glob("*.o")) == [cached]
    assert cached.stat().st_mtime > 1  # marked used: pruning removes the least used first


def test_prune_keeps_the_most_recently_used_objects_and_drops_stale_partials(tmp_path):
    for age, name in enumerate(["new", "mid", "old", "oldest"]):
        path = tmp_path / f"{name}.o"
        path.write_bytes(b"x")
        (tmp_path / f".{name}.lock").write_text("")
        os.utime(path, (1e9 - age, 1e9 - age))
    stale, fresh = tmp_path / ".old.123.o", tmp_path / ".new.456.o"
    stale.write_bytes(b"x")
    os.utime(stale, (1e9, 1e9))  # left by a compile killed long ago
    fresh.write_bytes(b"x")  # a compile running right now
    removed = compiled_trees.prune(tmp_path, keep=2)
    assert sorted(path.name for path in removed) == [".old.123.o", "old.o", "oldest.o"]
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == [".mid.lock", ".new.456.o", ".new.lock", "mid.o", "new.o"]


def test_without_lleaves_lightgbm_answers(monkeypatch):
    booster = _binary()
    rows, _ = _data(2)
    monkeypatch.setattr(compiled_trees, "available", lambda: False)
    got = compiled_trees.predict(booster, rows.T, compiled=True)
    np.testing.assert_array_equal(got, booster.predict(rows, num_threads=1))
    assert booster not in compiled_trees._compiled  # nothing was compiled


def test_small_calls_are_not_compiled():
    booster = _binary()
    rows, _ = _data(2)
    got = compiled_trees.predict(booster, rows[:100].T)  # default: below COMPILE_MIN_ROWS
    np.testing.assert_array_equal(got, booster.predict(rows[:100], num_threads=1))
    assert booster not in compiled_trees._compiled


def test_columns_left_out_are_nan_and_the_rest_keep_their_answer():
    booster = _binary()
    rows, _ = _data(2)
    valid = np.ones(len(rows), dtype=bool)
    valid[::7] = False
    valid[: compiled_trees.BATCH_ROWS // 1000] = True
    expected = booster.predict(
        rows[valid],
        num_threads=1,
        pred_early_stop=True,
        pred_early_stop_freq=5,
        pred_early_stop_margin=3,
    )
    for compiled in (True, False):
        got = compiled_trees.predict_early_stopped(booster, rows.T, 5, 3.0, valid, compiled)
        assert np.isnan(got[~valid]).all()
        np.testing.assert_allclose(got[valid], expected, rtol=0, atol=1e-12)


def test_the_suite_cluster_keeps_compiled_models_in_its_cache_dir(tmp_path, monkeypatch):
    """The embedded cluster's workers compile into the data directory's cache, not the
    service user's home; an explicit OGCSDL_MODEL_CACHE still wins."""
    from ogcsdl.config import Settings
    from ogcsdl.jobs.cluster import compiled_model_cache

    settings = Settings(data_dir=tmp_path / "var")
    monkeypatch.delenv("OGCSDL_MODEL_CACHE")
    compiled_model_cache(settings)
    assert compiled_trees.cache_dir() == tmp_path / "var" / "cache" / "compiled-models"
    monkeypatch.setenv("OGCSDL_MODEL_CACHE", str(tmp_path / "chosen"))
    compiled_model_cache(settings)
    assert compiled_trees.cache_dir() == tmp_path / "chosen"
