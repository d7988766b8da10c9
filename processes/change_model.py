"""The shipped change classifier: a LightGBM text model over :mod:`processes.change_features`
plus its metadata (decision threshold chosen by cross-validation, training cities, scores).

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

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_FILE = MODEL_DIR / "change-detection.lgbm.txt"
META_FILE = MODEL_DIR / "change-detection.json"
SMOOTHING = 3  # px: the probability is averaged over 3 x 3 before the threshold
CLEANUP_REACH = SMOOTHING // 2 + 1


@dataclass(frozen=True)
class ChangeModel:
    booster: Any  # lightgbm.Booster
    threshold: float
    metadata: dict[str, Any]

    def probability(self, features: np.ndarray, num_threads: int = 1) -> np.ndarray:
        """(y, x) float32 change probability of a (F, y, x) feature block (NaN stays NaN)."""
        n_features, height, width = features.shape
        flat = features.reshape(n_features, -1).T
        valid = np.isfinite(flat).all(axis=1)
        out = np.full(height * width, np.nan, dtype=np.float32)
        if valid.any():
            out[valid] = self.booster.predict(flat[valid], num_threads=num_threads)
        return out.reshape(height, width)


def smooth_probability(probability: np.ndarray) -> np.ndarray:
    """3 x 3 mean of the probability over valid pixels (removes isolated speckle)."""
    valid = np.isfinite(probability)
    total = ndimage.uniform_filter(np.where(valid, probability, 0).astype(np.float32), SMOOTHING)
    weight = ndimage.uniform_filter(valid.astype(np.float32), SMOOTHING)
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
    return ChangeModel(booster, float(metadata["threshold"]), metadata)
