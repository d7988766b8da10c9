"""Learned change detection scored leave-one-city-out on the labelled OSCD cities
(OGCSDL_SHARED_DATA): for each city a model fitted, threshold included, on the other
three only. Fewer training pixels than the shipped model to stay fast; run with ``-s``
to see the figures. ``python -m benchmarks.accuracy_change`` gives the full figures
through the processor, beside the CVA + Otsu baseline."""

from __future__ import annotations

import numpy as np
import pytest

from processes.change_training import (
    OSCD_CITIES,
    counts,
    leave_one_city_out,
    load_oscd,
    predict_city,
    scores,
)

pytestmark = pytest.mark.realdata

# Issue 10's target is 0.40; this fast variant (3000 training pixels per class and city)
# measured 0.393 and the full one (benchmarks.accuracy_change) about the same: the floor
# catches a real regression without pretending the target is met.
POOLED_F1_FLOOR = 0.35


def test_leave_one_city_out_pooled_f1(shared_data):
    cities = load_oscd(shared_data / "oscd")
    models = leave_one_city_out(cities, per_class=3000)
    total = np.zeros(4, dtype=np.int64)
    for city in cities:
        model = models[city.name]
        assert city.name not in model.metadata["training_cities"]
        probability = np.nan_to_num(predict_city(model.booster, city), nan=0.0)
        c = counts(probability > model.threshold, city.label, city.valid)
        print(f"\n{city.name}: threshold {model.threshold:.2f} {scores(c)}")
        total += c
    pooled = scores(total)
    print(f"pooled over {', '.join(OSCD_CITIES)}: {pooled}")
    assert pooled["f1"] >= POOLED_F1_FLOOR
