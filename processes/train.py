"""Retrain the models shipped in ``processes/models``::

    python -m processes.train change-detection [--data ../shared/data/oscd] [--seed N]

Same data and seed -> byte-identical model file. ``change-detection`` trains on every
labelled OSCD city (smoothing and threshold from leave-one-city-out over them) and records
in the metadata, per city, the decision and scores of the model that never saw it
(leave-one-city-out, its decision chosen by inner cross-validation on the other cities).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from processes import change_model, change_training


def loco_figures(
    cities: list[change_training.City], trainer: change_training.Trainer
) -> dict[str, Any]:
    """Per city: the held-out model's decision and its F1/precision/recall; pooled F1."""
    models = change_training.leave_one_city_out(cities, trainer.seed, trainer.per_class, trainer)
    total = np.zeros(4, dtype=np.int64)
    per_city = {}
    for city in cities:
        model = models[city.name]
        others = [c for c in cities if c is not city]
        c = change_training.decision_counts(model, trainer.held_out(others, city), city)
        s = change_training.scores(c)
        per_city[city.name] = {
            "smoothing": model.smoothing,
            "threshold": model.threshold,
            **{k: round(s[k], 4) for k in ("f1", "precision", "recall")},
        }
        total += c
    pooled = change_training.scores(total)
    return {
        "loco": per_city,
        "loco_pooled": {k: round(pooled[k], 4) for k in ("f1", "precision", "recall")},
        "loco_pooled_f1": round(pooled["f1"], 4),
    }


def train_change_detection(data: Path, seed: int, out_dir: Path) -> dict[str, Any]:
    cities = change_training.load_oscd(data)
    trainer = change_training.Trainer(seed)
    figures = loco_figures(cities, trainer)
    final = change_training.fit(cities, seed, trainer=trainer)
    change_training.save_model(
        final,
        out_dir / change_model.MODEL_FILE.name,
        out_dir / change_model.META_FILE.name,
        figures,
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m processes.train", description=__doc__)
    parser.add_argument("model", choices=["change-detection"])
    default_data = Path(os.environ.get("OGCSDL_SHARED_DATA", "../shared/data")) / "oscd"
    parser.add_argument("--data", type=Path, default=default_data, help="OSCD folder")
    parser.add_argument("--seed", type=int, default=change_training.SEED)
    parser.add_argument("--out", type=Path, default=change_model.MODEL_DIR)
    args = parser.parse_args(argv)
    figures = train_change_detection(args.data, args.seed, args.out)
    print("leave-one-city-out (each city scored by a model that never saw it):")
    for name, f in figures["loco"].items():
        print(
            f"  {name:<10} F1 {f['f1']:.3f}  precision {f['precision']:.3f}  "
            f"recall {f['recall']:.3f}  (smoothing {f['smoothing']}, threshold "
            f"{f['threshold']:.2f})"
        )
    pooled = figures["loco_pooled"]
    print(
        f"  pooled     F1 {pooled['f1']:.3f}  precision {pooled['precision']:.3f}  "
        f"recall {pooled['recall']:.3f}"
    )
    print(f"wrote {args.out / change_model.MODEL_FILE.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
