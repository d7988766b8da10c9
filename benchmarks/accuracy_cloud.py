"""Cloud and shadow accuracy beside the one-line baselines, in the same run.

- Landsat 7 (ukis-csmask test scene, labelled): kappa of cloud (cloud + thin cloud) and
  of shadow, leave-one-block-out over 4 x 4 blocks for the learned detector (the model
  scoring a block never saw its labels; all-clear OSCD scenes stay in every training
  set), beside ``blue > 0.2`` (cloud), ``NIR < 0.2 and blue < 0.2`` (shadow), the rules
  and, when ``ukis-csmask`` is installed, its 6-band CNN as an anchor (trained by DLR on
  Landsat and Sentinel-2 scenes that may include this one: not an unseen score).
- False alarms on the clear sen1floods11 Spain S2 scene (flooded fields, towns): cloud
  and shadow % of each method (the learned model was not trained on it).
- Quicklooks of every method on both ukis scenes in ``benchmarks/out/``.

    .venv/bin/python -m benchmarks.accuracy_cloud [--data ../shared/data] [--no-anchor]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from affine import Affine

from processes import classes, cloud_learned
from processes.base import Raster
from processes.cloud_detectors import LearnedDetector
from processes.cloud_mask import CloudMask
from processes.registry import validate_inputs

OUT = Path(__file__).parent / "out"
SIX = ["Blue", "Green", "Red", "NIR", "SWIR1", "SWIR2"]
PALETTE = {k: v[:3] for k, v in classes.PALETTES["cloud-classes"].items()}


class Context:
    def progress(self, percent: float, message: str = "") -> None:
        pass


def kappa(predicted: np.ndarray, truth: np.ndarray) -> float:
    p, t = predicted.ravel().astype(bool), truth.ravel().astype(bool)
    observed = float((p == t).mean())
    expected = float(p.mean() * t.mean() + (1 - p.mean()) * (1 - t.mean()))
    return (observed - expected) / max(1 - expected, 1e-12)


def raster(six: np.ndarray, pixel_m: float, names: list[str] = SIX) -> Raster:
    data = xr.DataArray(six, dims=("band", "y", "x"), coords={"band": names})
    return Raster(data, "EPSG:32633", Affine(pixel_m, 0, 500000, 0, -pixel_m, 6500000))


def run_method(product: Raster, method: str, **extra: Any) -> dict[str, Any]:
    processor = CloudMask()
    raw = {"product": product, "method": method, **extra}
    return processor.run(validate_inputs(processor.description, raw), Context())


def scores(mask: np.ndarray, label: np.ndarray) -> dict[str, float]:
    cloud = np.isin(mask, (classes.CLOUD, classes.THIN_CLOUD))
    return {
        "cloud": kappa(cloud, label == cloud_learned.CLOUD),
        "shadow": kappa(mask == classes.SHADOW, label == cloud_learned.SHADOW),
    }


def leave_one_block_out(data: Path, blocks: int = 4) -> np.ndarray:
    """Class codes of the Landsat 7 scene, each block predicted by a model trained on the
    other blocks (+ the clear OSCD scenes), through the detector's own block function."""
    six, label = cloud_learned.load_landsat7(data)
    clear = tuple(cloud_learned.load_oscd(data, city) for city in cloud_learned.OSCD_CITIES)
    h, w = label.shape
    rows, cols = np.arange(h) * blocks // h, np.arange(w) * blocks // w
    block_id = rows[:, None] * blocks + cols[None, :]
    out = np.zeros(label.shape, dtype=np.uint8)
    for block in range(blocks * blocks):
        model = cloud_learned.train(six, label, 30.0, block_id != block, clear)
        detector = LearnedDetector(model=model)
        mask, _ = detector.detect(raster(six, 30.0), 30.0, "product")
        values, _ = detector.finish(np.asarray(mask.values), 30.0)
        out[block_id == block] = values[block_id == block]
    return out


def baselines(six: np.ndarray) -> np.ndarray:
    blue, nir = six[0], six[3]
    out = np.full(blue.shape, classes.CLEAR, dtype=np.uint8)
    out[(nir < 0.2) & (blue < 0.2)] = classes.SHADOW
    out[blue > 0.2] = classes.CLOUD
    return out


def csmask_anchor(six: np.ndarray) -> np.ndarray | None:
    try:
        from ukis_csmask.mask import CSmask
    except ImportError:
        return None
    image = np.ascontiguousarray(six.transpose(1, 2, 0))
    result = CSmask(image, ["blue", "green", "red", "nir", "swir16", "swir22"], "l1c").csm[..., 0]
    return np.select([result == 1, result == 2], [classes.CLOUD, classes.SHADOW], classes.CLEAR)


def colour(mask: np.ndarray) -> np.ndarray:
    out = np.zeros((*mask.shape, 3), dtype=np.uint8)
    for code, rgb in PALETTE.items():
        out[mask == code] = rgb
    return out


def true_colour(six: np.ndarray) -> np.ndarray:
    return (np.clip(six[[2, 1, 0]].transpose(1, 2, 0) / 0.4, 0, 1) * 255).astype(np.uint8)


def quicklook(path: Path, panels: list[np.ndarray]) -> None:
    from PIL import Image

    gap = np.full((panels[0].shape[0], 6, 3), 255, dtype=np.uint8)
    row = [p for panel in panels for p in (panel, gap)][:-1]
    Image.fromarray(np.concatenate(row, axis=1)).save(path)


def spain_false_alarms(data: Path) -> dict[str, dict[str, float]]:
    import rasterio

    from ogcsdl.ingest.bands import S2_BANDS

    with rasterio.open(data / "sen1floods11" / "Spain_7370579_S2Hand.tif") as src:
        values, crs, transform = src.read(), src.crs.to_string(), src.transform
    names = [info.name for info in S2_BANDS]
    product = Raster(
        xr.DataArray(values, dims=("band", "y", "x"), coords={"band": names}), crs, transform
    )
    out = {}
    for method in ("learned", "s2cloudless", "rules"):
        shares = run_method(product, method)["statistics"]["class_percent"]
        out[method] = {
            "cloud %": shares["cloud"] + shares["thin cloud"],
            "shadow %": shares["shadow"],
        }
    return out


def run(data: Path | None = None, anchor: bool = True) -> dict[str, Any]:
    data = data or Path(os.environ.get("OGCSDL_SHARED_DATA", "../shared/data"))
    six, label = cloud_learned.load_landsat7(data)
    results: dict[str, Any] = {}
    started = time.perf_counter()
    held_out = leave_one_block_out(data)
    results["learned (leave-one-block-out)"] = scores(held_out, label)
    loo_s = time.perf_counter() - started
    results["baseline (blue>0.2; NIR<0.2 & blue<0.2)"] = scores(baselines(six), label)
    rules = run_method(raster(six, 30.0), "rules")["mask"].data.values[0]
    results["rules"] = scores(rules, label)
    shipped = run_method(raster(six, 30.0), "learned")["mask"].data.values[0]
    results["learned, shipped weights (trained on this scene: not a test)"] = scores(shipped, label)
    csm = csmask_anchor(six) if anchor else None
    if csm is not None:
        results["ukis-csmask 6-band CNN (anchor; may have seen this scene)"] = scores(csm, label)
    print(f"cloud/shadow kappa on the labelled Landsat 7 scene (LOO took {loo_s:.0f} s):")
    for name, value in results.items():
        print(f"  {name:62s} cloud {value['cloud']:.3f}  shadow {value['shadow']:.3f}")
    print("  targets: cloud >= 0.92, shadow >= 0.85")
    OUT.mkdir(exist_ok=True)
    panels = [true_colour(six), colour(np.select([label == 1, label == 2], [2, 4], 1))]
    panels += [colour(held_out), colour(rules)] + ([colour(csm)] if csm is not None else [])
    quicklook(OUT / "cloud_landsat7.png", panels)
    s2 = np.load(data / "ukis" / "sentinel2_image_only.npz")["img"].transpose(2, 0, 1)
    s2_product = raster(s2.astype(np.float32), 10.0)
    s2_panels = [true_colour(s2)]
    for method in ("learned", "rules"):
        out = run_method(s2_product, method)
        s2_panels.append(colour(out["mask"].data.values[0]))
        results[f"sentinel2_image_only {method}"] = out["statistics"]["class_percent"]
    quicklook(OUT / "cloud_sentinel2.png", s2_panels)
    if (data / "sen1floods11").is_dir():
        results["spain clear scene"] = spain_false_alarms(data)
        print("false alarms on the clear sen1floods11 Spain S2 scene (%):")
        for method, value in results["spain clear scene"].items():
            print(f"  {method:12s} cloud {value['cloud %']:.2f}  shadow {value['shadow %']:.2f}")
    print(f"quicklooks in {OUT}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data directory")
    parser.add_argument("--no-anchor", action="store_true", help="skip ukis-csmask")
    args = parser.parse_args()
    run(args.data, anchor=not args.no_anchor)


if __name__ == "__main__":
    main()
