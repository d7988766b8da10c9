"""Retrain the models shipped in ``processes/models``::

    python -m processes.train change-detection [--data ../shared/data/oscd] [--seed N]

Same data and seed -> byte-identical model file. ``change-detection`` trains on every
labelled OSCD city (threshold from leave-one-city-out over them) and records the
leave-one-city-out F1 of models that never saw the scored city in the metadata.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from processes import change_model, change_training


def train_change_detection(data: Path, seed: int, out_dir: Path) -> dict[str, float]:
    cities = change_training.load_oscd(data)
    models = change_training.leave_one_city_out(cities, seed)
    total = np.zeros(4, dtype=np.int64)
    per_city = {}
    for city in cities:
        model = models[city.name]
        probability = change_training.predict_city(model.booster, city)
        c = change_training.counts(
            np.nan_to_num(probability, nan=0.0) > model.threshold, city.label, city.valid
        )
        per_city[city.name] = round(change_training.scores(c)["f1"], 4)
        total += c
    pooled = round(change_training.scores(total)["f1"], 4)
    final = change_training.fit(cities, seed)
    change_training.save_model(
        final,
        out_dir / change_model.MODEL_FILE.name,
        out_dir / change_model.META_FILE.name,
        {"loco_f1": per_city, "loco_pooled_f1": pooled},
    )
    return {"pooled": pooled, **per_city}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m processes.train", description=__doc__)
    parser.add_argument("model", choices=["change-detection"])
    default_data = Path(os.environ.get("OGCSDL_SHARED_DATA", "../shared/data")) / "oscd"
    parser.add_argument("--data", type=Path, default=default_data, help="OSCD folder")
    parser.add_argument("--seed", type=int, default=change_training.SEED)
    parser.add_argument("--out", type=Path, default=change_model.MODEL_DIR)
    args = parser.parse_args(argv)
    figures = train_change_detection(args.data, args.seed, args.out)
    print("leave-one-city-out F1:", ", ".join(f"{k} {v:.3f}" for k, v in figures.items()))
    print(f"wrote {args.out / change_model.MODEL_FILE.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
