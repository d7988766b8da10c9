"""A learned cloud / shadow pixel classifier: LightGBM (already a dependency through
s2cloudless) over spectral indices and multi-scale neighbourhood statistics of Blue,
Green, Red, NIR, SWIR1, SWIR2 reflectance, trained by :func:`train` on the labelled
Landsat 7 scene of ukis-csmask's test data (Apache-2.0; 512 x 512 px, 30 m; classes
clear / cloud / shadow) with brightness and haze augmentation, plus every pixel of the
cloud-free Sentinel-2 L1C OSCD city scenes as "clear" (green fields, wet soil, water,
cities and desert the Landsat scene does not show; without them the model called half of
a clear, flooded Spanish plain shadow). The weights ship in
``processes/weights/cloud_lightgbm.txt``; ``python -m processes.cloud_learned --data DIR``
retrains them (same seed, same file).

Windows are given in metres, so a 10 m Sentinel-2 scene sees the same ground context as
the 30 m training scene; the model runs on block means of about ``PROCESSING_M``.
"""

from __future__ import annotations

import argparse
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from processes import compiled_trees

WEIGHTS = Path(__file__).parent / "weights" / "cloud_lightgbm.txt"
PROCESSING_M = 30.0  # the training scene's pixel size
WINDOWS_M = (90.0, 270.0, 810.0)
CLEAR, CLOUD, SHADOW = 0, 1, 2  # model classes
SEED = 7
ROUNDS = 60
PARAMS: dict[str, Any] = {
    "objective": "multiclass",
    "num_class": 3,
    "num_leaves": 20,
    "learning_rate": 0.08,
    "min_data_in_leaf": 40,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 1,
    "seed": SEED,
    "deterministic": True,
}


def halo_px(pixel_m: float) -> int:
    """Neighbourhood reach of :func:`features` in pixels."""
    return int(max(WINDOWS_M) / max(pixel_m, 1e-6)) // 2 + 2


def features(six: np.ndarray, pixel_m: float) -> np.ndarray:
    """(n_features, y, x) float32 from a (6, y, x) reflectance block (NaN-free)."""
    blue, green, red, nir, swir1, swir2 = (six[i].astype(np.float32) for i in range(6))
    eps = np.float32(1e-4)
    visible = (blue + green + red) / 3
    out = [
        blue,
        green,
        red,
        nir,
        swir1,
        swir2,
        visible,
        (np.abs(blue - visible) + np.abs(green - visible) + np.abs(red - visible))
        / (visible + eps),
        blue - 0.5 * red,  # haze-optimised transform
        (nir - red) / (nir + red + eps),
        (green - swir1) / (green + swir1 + eps),
        nir / (swir1 + eps),
        (blue - swir2) / (blue + swir2 + eps),
    ]
    for metres in WINDOWS_M:
        size = max(3, int(round(metres / pixel_m)) | 1)
        for band in (blue, nir, swir1):
            out.append(ndimage.uniform_filter(band, size))
        out.append(nir - ndimage.uniform_filter(nir, size))  # darker than the surroundings
        out.append(ndimage.maximum_filter(visible, size))  # a bright cloud nearby
    size = max(3, int(round(WINDOWS_M[0] / pixel_m)) | 1)
    mean = ndimage.uniform_filter(blue, size)
    out.append(np.sqrt(np.maximum(ndimage.uniform_filter(blue * blue, size) - mean * mean, 0)))
    return np.stack(out).astype(np.float32)


@lru_cache(maxsize=1)
def booster() -> Any:
    import lightgbm  # heavy import: only when the learned method runs

    return lightgbm.Booster(model_file=str(WEIGHTS))


def probabilities(six: np.ndarray, pixel_m: float, model: Any = None) -> np.ndarray:
    """(3, y, x) clear / cloud / shadow probabilities of a (6, y, x) reflectance block."""
    stack = features(np.nan_to_num(six, nan=0.0), pixel_m)
    flat = stack.reshape(stack.shape[0], -1)
    predicted = compiled_trees.predict(model or booster(), flat)
    return np.asarray(predicted, dtype=np.float32).T.reshape(3, *six.shape[1:])


def augment(six: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another illumination / atmosphere: all bands x U(0.85, 1.15), plus a haze offset
    decreasing with wavelength (0-0.04 in blue), as between scenes and sensors."""
    scale = rng.uniform(0.85, 1.15)
    haze = rng.uniform(0.0, 0.04) * np.array([1.0, 0.8, 0.6, 0.3, 0.1, 0.05], np.float32)
    return (six * scale + haze[:, None, None]).astype(np.float32)


def labels_of(mask: np.ndarray) -> np.ndarray:
    """ukis-csmask mask codes (0 shadow, 1-3 clear, 4 cloud) -> model classes."""
    return np.select([mask == 4, mask == 0], [CLOUD, SHADOW], CLEAR).astype(np.int32)


def training_samples(
    six: np.ndarray,
    classes: np.ndarray,
    pixel_m: float,
    use: np.ndarray,
    rng: np.random.Generator,
    per_copy: int = 15000,
    copies: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced samples of the ``use`` pixels from the scene and augmented copies."""
    xs, ys = [], []
    for copy in range(copies):
        scene = six if copy == 0 else augment(six, rng)
        stack = features(scene, pixel_m).reshape(-1, classes.size)
        for value in (CLEAR, CLOUD, SHADOW):
            index = np.flatnonzero(use.ravel() & (classes.ravel() == value))
            if index.size:
                pick = rng.choice(index, min(per_copy // 3, index.size), replace=False)
                xs.append(stack[:, pick].T)
                ys.append(np.full(pick.size, value))
    return np.concatenate(xs), np.concatenate(ys)


def train(
    six: np.ndarray,
    classes: np.ndarray,
    pixel_m: float,
    use: np.ndarray,
    clear_scenes: tuple[np.ndarray, ...] = (),
) -> Any:
    """A booster trained on the ``use`` pixels of a labelled scene plus samples of
    all-clear scenes at 30 m (deterministic for a given input)."""
    import lightgbm

    rng = np.random.default_rng(SEED)
    x, y = training_samples(six, classes, pixel_m, use, rng)
    xs, ys = [x], [y]
    for scene in clear_scenes:
        everything = np.ones(scene.shape[1:], dtype=bool)
        cx, cy = training_samples(
            scene, np.zeros(everything.shape, np.int32), 30.0, everything, rng, 9000, 2
        )
        xs.append(cx)
        ys.append(cy)
    return lightgbm.train(
        PARAMS, lightgbm.Dataset(np.concatenate(xs), np.concatenate(ys)), num_boost_round=ROUNDS
    )


OSCD_CITIES = ("abudhabi", "bercy", "hongkong", "norcia", "rennes", "valencia")
S2_SIX = ("B02", "B03", "B04", "B08", "B11", "B12")


def load_oscd(data: Path, city: str, folder: str = "imgs_1") -> np.ndarray:
    """(6, y, x) reflectance of one OSCD date, block means to ~30 m."""
    import rasterio
    from rasterio.enums import Resampling

    directory = data / "oscd" / city / folder
    (reference,) = directory.glob("*_B02.tif")
    with rasterio.open(reference) as src:
        shape = (max(1, src.height // 3), max(1, src.width // 3))
    bands = []
    for name in S2_SIX:
        (path,) = directory.glob(f"*_{name}.tif")
        with rasterio.open(path) as src:
            bands.append(src.read(1, out_shape=shape, resampling=Resampling.average))
    return np.stack(bands).astype(np.float32) / 10000


def load_landsat7(data: Path) -> tuple[np.ndarray, np.ndarray]:
    archive = np.load(data / "ukis" / "landsat7.npz")
    return archive["img"].transpose(2, 0, 1).astype(np.float32), labels_of(archive["msk"][..., 0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Retrain the learned cloud/shadow weights.")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args(argv)
    six, classes = load_landsat7(args.data)
    clear = tuple(load_oscd(args.data, city) for city in OSCD_CITIES)
    model = train(six, classes, 30.0, np.ones(classes.shape, dtype=bool), clear)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save_model(str(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
