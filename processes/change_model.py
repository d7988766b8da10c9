"""The shipped change classifier: a LightGBM text model over :mod:`processes.change_features`
plus its metadata (decision threshold and probability smoothing chosen by cross-validation
over the training cities, training cities, scores).

Loaded lazily, once per process. ``python -m processes.train change-detection`` rewrites
both files (see :mod:`processes.change_training`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from processes.change_features import feature_names
from processes.compiled_trees import predict_early_stopped

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_FILE = MODEL_DIR / "change-detection.lgbm.txt"
META_FILE = MODEL_DIR / "change-detection.json"
# Windows (px) the probability may be averaged over before the threshold; cross-validation
# picks one (spatial context: a changed building is a blob, isolated pixels are noise).
SMOOTHINGS = (1, 3, 5, 7)
CLEANUP_REACH = max(SMOOTHINGS) // 2 + 1
# Prediction stops adding trees once a pixel's raw score is this far from 0 (checked every
# PREDICT_STOP_EVERY trees): most pixels are clearly unchanged after a few trees. The
# cross-validated figures are computed with exactly this prediction (compiled or not:
# processes.compiled_trees gives LightGBM's answer).
PREDICT_STOP_EVERY = 10
PREDICT_STOP_MARGIN = 4.0


@dataclass(frozen=True)
class ChangeModel:
    booster: Any  # lightgbm.Booster
    threshold: float
    metadata: dict[str, Any]
    smoothing: int = 3

    def probability(self, features: np.ndarray) -> np.ndarray:
        """(y, x) float32 change probability of a (F, y, x) feature block (NaN stays NaN)."""
        return predict_probability(self.booster, features)

    def decide(self, probability: np.ndarray) -> np.ndarray:
        """The smoothed probability the threshold applies to."""
        return smooth_probability(probability, self.smoothing)


def predict_probability(
    booster: Any, features: np.ndarray, compiled: bool | None = None
) -> np.ndarray:
    """(y, x) change probability of a (F, y, x) feature block, NaN where a feature is;
    ``compiled`` as in :func:`processes.compiled_trees.predict` (the same answer)."""
    n_features, height, width = features.shape
    flat = features.reshape(n_features, -1)
    valid = np.isfinite(flat).all(axis=0)
    probability = predict_early_stopped(
        booster, flat, PREDICT_STOP_EVERY, PREDICT_STOP_MARGIN, valid, compiled
    )
    return probability.astype(np.float32).reshape(height, width)


def smooth_probability(probability: np.ndarray, size: int = 3) -> np.ndarray:
    """``size`` x ``size`` mean of the probability over valid pixels (removes isolated
    speckle); NaN stays NaN."""
    if size <= 1:
        return probability.astype(np.float32)
    valid = np.isfinite(probability)
    total = ndimage.uniform_filter(np.where(valid, probability, 0).astype(np.float32), size)
    weight = ndimage.uniform_filter(valid.astype(np.float32), size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(valid & (weight > 0), total / weight, np.nan).astype(np.float32)


def booster_from_text(text: str) -> Any:
    import lightgbm  # heavy import: only when the learned method runs

    return lightgbm.Booster(model_str=text)


@lru_cache(maxsize=1)
def shipped_model() -> ChangeModel:
    """The model in the package (trained on every labelled city); read once per process."""
    metadata = json.loads(META_FILE.read_text(encoding="utf-8"))
    if metadata.get("features") != feature_names():
        raise RuntimeError(
            "The shipped change model was trained on other features; retrain it with "
            "'python -m processes.train change-detection'."
        )
    booster = booster_from_text(MODEL_FILE.read_text(encoding="utf-8"))
    return ChangeModel(
        booster, float(metadata["threshold"]), metadata, int(metadata.get("smoothing", 3))
    )
