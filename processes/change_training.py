"""Training and leave-one-city-out scoring of the change classifier on the labelled OSCD
cities (Daudt et al. 2018; Sentinel-2 L1C pairs, change labels 1 = no change, 2 = change).

- Each city's features are computed on the whole city (:mod:`processes.change_features`).
- Training pixels: per city up to ``per_class`` change and up to twice as many no-change
  pixels, drawn with a generator seeded from the seed and the city's name (every city
  weighs about the same whatever its size; leave-one-city-out F1 0.413 with two negatives
  per positive against 0.406 with one: unchanged land is the more varied class).
- The decision (the window the probability is averaged over, and the threshold on it) is
  chosen by inner leave-one-city-out over the *training* cities only: for each training
  city a model trained on the other training cities predicts it; the smoothing and
  threshold maximising the pooled F1 of those predictions are kept. The scored city never
  takes part.
- LightGBM runs deterministically (fixed seed, row-wise histograms, fixed thread count):
  the same cities and seed give a byte-identical model file.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import xarray as xr
from rasterio.enums import Resampling

from processes.change_features import (
    FEATURE_BANDS,
    block_features,
    feature_names,
    feature_statistics,
    normalise,
    scene_statistics,
)
from processes.change_model import (
    SMOOTHINGS,
    ChangeModel,
    booster_from_text,
    predict_probability,
    smooth_probability,
)

OSCD_CITIES = ("abudhabi", "bercy", "hongkong", "rennes")
S2_NAMES = {
    "blue": "B02",
    "green": "B03",
    "red": "B04",
    "nir": "B08",
    "swir1": "B11",
    "swir2": "B12",
}
SEED = 20181
PER_CLASS = 12_000  # change pixels per city (at most)
NEGATIVES_PER_POSITIVE = 2  # no-change pixels per change pixel drawn: no change is diverse
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)
LGBM_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 63,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,  # reproducible; OpenMP threads spin badly on a busy machine
    "verbose": -1,
}
ROUNDS = 120


@dataclass
class City:
    name: str
    features: np.ndarray  # (F, y, x) float32
    label: np.ndarray  # (y, x) bool: changed
    valid: np.ndarray  # (y, x) bool: labelled, input valid and all features finite


def read_oscd_date(
    city_dir: Path, folder: str, bands: Sequence[str], shape: tuple[int, int]
) -> np.ndarray:
    """(n, y, x) float32 reflectance of the named S2 bands of one date on the 10 m label
    grid (20/60 m bands resampled bilinear); NaN where the digital number is 0."""
    out = []
    for name in bands:
        (path,) = (city_dir / folder).glob(f"*_{name}.tif")
        with rasterio.open(path) as src:
            dn = src.read(1, out_shape=shape, resampling=Resampling.bilinear).astype(np.float32)
        out.append(np.where(dn > 0, dn * np.float32(1e-4), np.nan).astype(np.float32))
    return np.stack(out)


def read_oscd_label(city_dir: Path) -> np.ndarray:
    """(y, x) uint8 label: 1 no change, 2 change, anything else unlabelled."""
    with rasterio.open(city_dir / "cm" / f"{city_dir.name}-cm.tif") as src:
        return np.asarray(src.read(1))


def city_from_arrays(name: str, before: np.ndarray, after: np.ndarray, label: np.ndarray) -> City:
    """A city from (6, y, x) reflectance of both dates and its 1/2 label."""
    dims = ("band", "y", "x")
    stats = scene_statistics(xr.DataArray(before, dims=dims), xr.DataArray(after, dims=dims))
    features = block_features(np.concatenate([before, after]), stats)
    normalise(features, feature_statistics(features))
    valid = np.isin(label, (1, 2)) & np.isfinite(features).all(axis=0)
    return City(name, features, label == 2, valid)


def load_oscd_city(city_dir: Path) -> City:
    label = read_oscd_label(city_dir)
    bands = [S2_NAMES[b] for b in FEATURE_BANDS]
    before = read_oscd_date(city_dir, "imgs_1", bands, label.shape)
    after = read_oscd_date(city_dir, "imgs_2", bands, label.shape)
    return city_from_arrays(city_dir.name, before, after, label)


def load_oscd(root: Path, names: Sequence[str] = OSCD_CITIES) -> list[City]:
    return [load_oscd_city(root / name) for name in names]


def sample_pixels(
    city: City, seed: int, per_class: int = PER_CLASS
) -> tuple[np.ndarray, np.ndarray]:
    """Training rows (X: (n, F) float32, y: (n,) 0/1) of one city."""
    rng = np.random.default_rng([seed, zlib.crc32(city.name.encode())])
    flat_label, flat_valid = city.label.ravel(), city.valid.ravel()
    changed = np.flatnonzero(flat_label & flat_valid)
    unchanged = np.flatnonzero(~flat_label & flat_valid)
    picks = [
        rng.choice(changed, min(per_class, len(changed)), replace=False),
        rng.choice(
            unchanged, min(NEGATIVES_PER_POSITIVE * per_class, len(unchanged)), replace=False
        ),
    ]
    index = np.sort(np.concatenate(picks))
    x = city.features.reshape(city.features.shape[0], -1)[:, index].T
    return np.ascontiguousarray(x, dtype=np.float32), flat_label[index].astype(np.float32)


def train_booster(cities: Sequence[City], seed: int = SEED, per_class: int = PER_CLASS) -> Any:
    import lightgbm

    rows = [sample_pixels(city, seed, per_class) for city in sorted(cities, key=lambda c: c.name)]
    x = np.concatenate([r[0] for r in rows])
    y = np.concatenate([r[1] for r in rows])
    params = {**LGBM_PARAMS, "seed": seed}
    dataset = lightgbm.Dataset(
        x, y, feature_name=feature_names(), params={"max_bin": params["max_bin"]}
    )
    booster = lightgbm.train(params, dataset, num_boost_round=ROUNDS)
    # Round-trip through the text format: what is shipped is exactly what is scored.
    return booster_from_text(booster.model_to_string())


def predict_city(booster: Any, city: City) -> np.ndarray:
    """Unsmoothed change probability of a whole city (NaN where not valid), predicted
    exactly as the service predicts."""
    # LightGBM itself: compiling each fold's model would cost more than it saves here
    probability = predict_probability(booster, city.features, compiled=False)
    probability[~city.valid] = np.nan
    return probability


class Trainer:
    """Boosters and their predictions, each trained once per set of training cities: the
    inner folds of one outer fold and the outer folds share most training sets (4 cities:
    11 trainings instead of 21 for leave-one-city-out plus the final model)."""

    def __init__(self, seed: int = SEED, per_class: int = PER_CLASS) -> None:
        self.seed, self.per_class = seed, per_class
        self._boosters: dict[tuple[str, ...], Any] = {}
        self._predictions: dict[tuple[tuple[str, ...], str], np.ndarray] = {}

    def booster(self, cities: Sequence[City]) -> Any:
        key = tuple(sorted(c.name for c in cities))
        if key not in self._boosters:
            self._boosters[key] = train_booster(cities, self.seed, self.per_class)
        return self._boosters[key]

    def held_out(self, cities: Sequence[City], city: City) -> np.ndarray:
        """Probability of ``city`` by the model trained on ``cities`` (which lack it)."""
        key = (tuple(sorted(c.name for c in cities)), city.name)
        if key not in self._predictions:
            self._predictions[key] = predict_city(self.booster(cities), city)
        return self._predictions[key]


def counts(predicted: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """[tp, fp, fn, tn] over valid pixels."""
    p, t = predicted & valid, truth & valid
    tp, fp, fn = int((p & t).sum()), int((p & ~t).sum()), int((~p & t).sum())
    return np.array([tp, fp, fn, int(valid.sum()) - tp - fp - fn], dtype=np.int64)


def scores(c: np.ndarray) -> dict[str, float]:
    """F1, precision, recall and Cohen's kappa of the change class from [tp, fp, fn, tn]."""
    tp, fp, fn, tn = (float(v) for v in c)
    n = max(tp + fp + fn + tn, 1.0)
    precision, recall = tp / max(tp + fp, 1.0), tp / max(tp + fn, 1.0)
    observed = (tp + tn) / n
    expected = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / n**2
    return {
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "precision": precision,
        "recall": recall,
        "kappa": (observed - expected) / max(1 - expected, 1e-12),
    }


def decision_counts(model: ChangeModel, probability: np.ndarray, city: City) -> np.ndarray:
    """[tp, fp, fn, tn] of ``model``'s decision (smoothing, threshold) on a city."""
    decided = np.nan_to_num(model.decide(probability), nan=0.0) > model.threshold
    return counts(decided, city.label, city.valid)


def best_decision(
    probabilities: Sequence[np.ndarray], cities: Sequence[City]
) -> tuple[int, float, float]:
    """(smoothing, threshold, pooled F1): the probability smoothing of :data:`SMOOTHINGS`
    and threshold of :data:`THRESHOLDS` with the best pooled F1 over the given cities."""
    best: tuple[int, float, float] = (3, 0.5, -1.0)
    for size in SMOOTHINGS:
        smoothed = [np.nan_to_num(smooth_probability(p, size), nan=0.0) for p in probabilities]
        for threshold in THRESHOLDS:
            total = sum(
                counts(s > threshold, c.label, c.valid)
                for s, c in zip(smoothed, cities, strict=True)
            )
            f1 = scores(np.asarray(total))["f1"]
            if f1 > best[2]:
                best = (size, float(threshold), f1)
    return best


def fit(
    cities: Sequence[City],
    seed: int = SEED,
    per_class: int = PER_CLASS,
    trainer: Trainer | None = None,
) -> ChangeModel:
    """A model trained on ``cities`` with its smoothing and threshold from inner
    leave-one-city-out over them."""
    trainer = trainer or Trainer(seed, per_class)
    held_out = [trainer.held_out([c for c in cities if c is not city], city) for city in cities]
    smoothing, threshold, inner_f1 = (
        best_decision(held_out, cities) if len(cities) > 1 else (3, 0.5, float("nan"))
    )
    metadata = {
        "features": feature_names(),
        "threshold": threshold,
        "smoothing": smoothing,
        "threshold_method": "smoothing and threshold with the best pooled F1 of inner "
        "leave-one-city-out over the training cities",
        "inner_pooled_f1": round(inner_f1, 4),
        "training_cities": sorted(c.name for c in cities),
        "seed": seed,
        "per_class": per_class,
        "rounds": ROUNDS,
        "params": LGBM_PARAMS,
    }
    return ChangeModel(trainer.booster(cities), threshold, metadata, smoothing)


def leave_one_city_out(
    cities: Sequence[City],
    seed: int = SEED,
    per_class: int = PER_CLASS,
    trainer: Trainer | None = None,
) -> dict[str, ChangeModel]:
    """For each city, the model fitted (smoothing and threshold included) on the other
    cities only."""
    trainer = trainer or Trainer(seed, per_class)
    return {
        city.name: fit([c for c in cities if c is not city], seed, per_class, trainer)
        for city in cities
    }


def save_model(
    model: ChangeModel, model_file: Path, meta_file: Path, extra: dict[str, Any] | None = None
) -> None:
    model_file.parent.mkdir(parents=True, exist_ok=True)
    model_file.write_text(model.booster.model_to_string(), encoding="utf-8")
    meta = {**model.metadata, **(extra or {})}
    meta_file.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
