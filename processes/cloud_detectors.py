"""Cloud detectors behind the ``cloud-mask`` processor: a spectral rule set (6 bands, also
finds shadow), s2cloudless (Sentinel-2, 10 bands, gives a probability) and the L2A scene
classification (SCL). Each returns class codes from :mod:`processes.classes`.

The per-block functions see a (band, y, x) reflectance block; neighbourhood steps (cloud
buffer, shadow search, s2cloudless smoothing) reach at most ``depth`` pixels, which is
the halo the block-wise runner gives them, so chunked and in-memory runs agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import xarray as xr
from scipy import ndimage

from processes import classes
from processes.base import Raster
from processes.coarse_grid import aligned_to_blocks, block_mean, on_native_grid
from processes.raster_ops import find_band, map_pixels, select_bands, to_reflectance, valid_mask

RULE_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
S2CLOUDLESS_BANDS = (
    "coastal",
    "blue",
    "red",
    "rededge1",
    "nir",
    "nir08",
    "watervapour",
    "cirrus",
    "swir1",
    "swir2",
)

# Spectral tests on top-of-atmosphere (or surface) reflectance, after Fmask (Zhu & Woodcock
# 2012: basic test without thermal, whiteness, haze-optimised transform HOT, NIR/SWIR1
# ratio). Thresholds were chosen on the ukis-csmask Landsat 7 scene (labelled) together
# with nine cloud-free Sentinel-2 L1C scenes (OSCD cities, sen1floods11) as false-alarm
# check: Sentinel-2 TOA blue carries more Rayleigh path radiance than the Fmask defaults
# assume, and bright deserts/roofs must not pass (see tests/test_processors_realdata.py).
HOT_THICK = 0.10  # blue - 0.5 red above this and bright -> cloud
THICK_VISIBLE_MEAN = 0.25
HOT_THIN = 0.08  # a smaller HOT excess over a less bright surface -> thin / hazy cloud
THIN_VISIBLE_MEAN = 0.20
WHITENESS_MAX = 0.7  # sum |band - visible mean| / visible mean: clouds are spectrally flat
NIR_SWIR1_RATIO_MIN = 0.9  # clouds reflect NIR >= SWIR1; bright soils and sand do not
CIRRUS_MIN = 0.01  # Sentinel-2 B10 (1375 nm) above this: cirrus -> thin cloud
SHADOW_NIR_MAX = 0.20  # shadows are dark in NIR and SWIR1 ...
SHADOW_SWIR1_MAX = 0.20
SHADOW_RELATIVE_MAX = 0.8  # ... and darker than 4/5 of the local cloud-free mean
SEED_MIN_WIDTH_M = 60.0
CLOUD_BUFFER_PX = 1  # thick clouds' soft edges: grow by one pixel (as thin cloud)


class CloudDetector(Protocol):
    name: str
    gives_probability: bool

    def applicable(self, raster: Raster) -> bool: ...

    def detect(
        self, raster: Raster, pixel_m: float, locator: str
    ) -> tuple[xr.DataArray, xr.DataArray | None]:
        """Lazy (y, x) class codes and, if the method has one, cloud probability 0..1."""
        ...


def _dark_shadow(
    green: np.ndarray,
    nir: np.ndarray,
    swir1: np.ndarray,
    seed: np.ndarray,
    cloud: np.ndarray,
    reach_px: int,
    seed_open_px: int = 0,
) -> np.ndarray:
    """Cloud shadow: dark in NIR and SWIR1, not water-like (NDWI < 0), not cloud, and
    within ``reach_px`` of a ``seed`` (thick) cloud: a shadow is cast by a cloud a few
    hundred metres to ~1.5 km away; no sun geometry is needed for this proximity rule."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ndwi = (green - nir) / (green + nir)
    dark = (nir < SHADOW_NIR_MAX) & (swir1 < SHADOW_SWIR1_MAX) & (ndwi < 0) & ~cloud
    if seed_open_px:  # specks (bright roofs, s2cloudless noise) cast no shadow worth searching
        seed = ndimage.binary_opening(seed, iterations=seed_open_px)
    if not seed.any() or not dark.any():
        return np.zeros_like(dark)
    near = ndimage.distance_transform_edt(~seed) <= reach_px
    # Relative darkness: a shadow is much darker than the cloud-free surface around it, which
    # keeps dark cities, forests and wet fields (dark everywhere) out.
    lit = ~cloud & np.isfinite(nir) & np.isfinite(swir1)
    window = 2 * reach_px + 1
    weight = ndimage.uniform_filter(lit.astype(np.float32), window, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        for band in (nir, swir1):
            local = (
                ndimage.uniform_filter(
                    np.where(lit, band, 0).astype(np.float32), window, mode="nearest"
                )
                / weight
            )
            dark &= band < SHADOW_RELATIVE_MAX * local
    return dark & near


def rule_classes(
    block: np.ndarray, reach_px: int, cirrus: np.ndarray | None = None, seed_open_px: int = 1
) -> np.ndarray:
    """Class codes of a (6, y, x) block Blue, Green, Red, NIR, SWIR1, SWIR2 (reflectance)."""
    blue, green, red, nir, swir1, swir2 = (block[i] for i in range(6))
    valid = np.isfinite(block).all(axis=0) & (block > 0).any(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        visible = (blue + green + red) / 3
        whiteness = (
            np.abs(blue - visible) + np.abs(green - visible) + np.abs(red - visible)
        ) / visible
        ndsi = (green - swir1) / (green + swir1)
        ndvi = (nir - red) / (nir + red)
        hot = blue - 0.5 * red
    snow = (ndsi > 0.4) & (nir > 0.11) & (green > 0.1)
    basic = (
        (swir2 > 0.03) & (ndvi < 0.8) & (ndsi < 0.8) & (whiteness < WHITENESS_MAX) & ~snow & valid
    )
    basic &= nir > NIR_SWIR1_RATIO_MIN * swir1  # Fmask's NIR/SWIR1 test: bright soils fail it
    thick = basic & (hot > HOT_THICK) & (visible > THICK_VISIBLE_MEAN)
    thin = basic & ~thick & (hot > HOT_THIN) & (visible > THIN_VISIBLE_MEAN)
    if cirrus is not None:
        thin |= valid & ~thick & (cirrus > CIRRUS_MIN) & ~snow
    if CLOUD_BUFFER_PX:  # thick clouds' soft edges
        thin |= ndimage.binary_dilation(thick, iterations=CLOUD_BUFFER_PX) & valid & ~thick
    cloud = thick | thin
    shadow = _dark_shadow(green, nir, swir1, thick, cloud, reach_px, seed_open_px) & valid
    out = np.full(blue.shape, classes.CLEAR, dtype=np.uint8)
    out[shadow] = classes.SHADOW
    out[thin] = classes.THIN_CLOUD
    out[thick] = classes.CLOUD
    out[~valid] = classes.NODATA
    return out


def shadow_reach_px(pixel_m: float, distance_m: float) -> int:
    return max(1, int(math.ceil(distance_m / max(pixel_m, 1e-6))))


def seed_opening_px(pixel_m: float) -> int:
    """Opening radius removing cloud specks narrower than ~60 m from the shadow seeds."""
    return max(1, round(SEED_MIN_WIDTH_M / 2 / max(pixel_m, 1e-6)))


@dataclass
class RuleBasedDetector:
    """Spectral tests on Blue, Green, Red, NIR, SWIR1, SWIR2 (S2 B02/B03/B04/B08/B11/B12
    or generic names); uses S2 B10 (cirrus) for thin cloud when present."""

    shadow_distance_m: float = 1200.0
    scale: str | float = "auto"
    name: str = "rules"
    gives_probability: bool = False

    def applicable(self, raster: Raster) -> bool:
        return all(find_band(raster, b) for b in RULE_BANDS)

    def detect(self, raster: Raster, pixel_m: float, locator: str) -> tuple[xr.DataArray, None]:
        use_cirrus = find_band(raster, "cirrus") is not None
        names = RULE_BANDS + (("cirrus",) if use_cirrus else ())
        own = [find_band(raster, n) for n in names]
        bands = to_reflectance(select_bands(raster, names, locator), self.scale)
        bands = bands.where(valid_mask(raster.data.sel(band=own), raster.nodata))
        cirrus = bands.sel(band="cirrus") if use_cirrus else None
        return rule_classes_lazy(
            bands.sel(band=list(RULE_BANDS)), pixel_m, self.shadow_distance_m, cirrus
        ), None


def rule_classes_lazy(
    six: xr.DataArray,
    pixel_m: float,
    shadow_distance_m: float = 1200.0,
    cirrus: xr.DataArray | None = None,
) -> xr.DataArray:
    """Rule-based class codes of a (band, y, x) reflectance array in RULE_BANDS order (NaN
    where invalid), evaluated block-wise with the halo the neighbourhood steps need."""
    reach, opening = shadow_reach_px(pixel_m, shadow_distance_m), seed_opening_px(pixel_m)
    stack = six if cirrus is None else xr.concat([six, cirrus.expand_dims("band")], dim="band")

    def block(b: np.ndarray) -> np.ndarray:
        return rule_classes(b[:6], reach, b[6] if b.shape[0] > 6 else None, opening)

    return map_pixels(block, stack, depth=reach + 2 * opening + CLOUD_BUFFER_PX + 1)


@lru_cache(maxsize=4)
def _s2cloudless(threshold: float, average_over: int, dilation_size: int) -> Any:
    from s2cloudless import S2PixelCloudDetector  # heavy import (lightgbm): only when used

    return S2PixelCloudDetector(
        threshold=threshold, average_over=average_over, dilation_size=dilation_size, all_bands=False
    )


@dataclass
class S2CloudlessDetector:
    """The s2cloudless LightGBM pixel classifier on 10 Sentinel-2 bands (reflectance);
    its cloud mask is smoothed (disk ``average_over``) and dilated (``dilation_size``).
    Shadows come from the dark-pixel proximity rule when B03 is present too. With
    ``processing_m`` the model runs on block means of about that size (the s2cloudless
    authors work at 160 m; at 10 m the model costs ~30 us/pixel, about an hour of CPU for a
    full tile) and the result is repeated back onto the native grid."""

    threshold: float = 0.4
    average_over: int = 4
    dilation_size: int = 2
    shadow_distance_m: float = 1200.0
    scale: str | float = "auto"
    processing_m: float | None = None
    name: str = "s2cloudless"
    gives_probability: bool = True

    def applicable(self, raster: Raster) -> bool:
        return all(find_band(raster, b) for b in S2CLOUDLESS_BANDS)

    def detect(
        self, raster: Raster, pixel_m: float, locator: str
    ) -> tuple[xr.DataArray, xr.DataArray]:
        with_green = find_band(raster, "green") is not None
        names = S2CLOUDLESS_BANDS + (("green",) if with_green else ())
        own = [find_band(raster, n) for n in names]
        bands = to_reflectance(select_bands(raster, names, locator), self.scale)
        bands = bands.where(valid_mask(raster.data.sel(band=own), raster.nodata))
        factor = max(1, round(self.processing_m / pixel_m)) if self.processing_m else 1
        bands = aligned_to_blocks(bands, factor)  # validity and block means: one chunking
        work = block_mean(bands, factor)
        work_m = pixel_m * factor
        reach = shadow_reach_px(work_m, self.shadow_distance_m) if with_green else 0
        opening = seed_opening_px(work_m)
        detector = _s2cloudless(self.threshold, self.average_over, self.dilation_size)

        def block(b: np.ndarray) -> np.ndarray:
            valid = np.isfinite(b).all(axis=0)
            model_input = np.nan_to_num(b[:10], nan=0.0).transpose(1, 2, 0)[np.newaxis]
            probability = detector.get_cloud_probability_maps(model_input)
            cloud = detector.get_mask_from_prob(probability)[0].astype(bool) & valid
            out = np.full(valid.shape, classes.CLEAR, dtype=np.float32)
            if with_green:
                shadow = _dark_shadow(b[10], b[4], b[8], cloud, cloud, reach, opening) & valid
                out[shadow] = classes.SHADOW
            out[cloud] = classes.CLOUD
            out[~valid] = classes.NODATA
            prob = np.where(valid, probability[0], np.nan).astype(np.float32)
            return np.stack([out, prob])

        depth = self.average_over + self.dilation_size + 2 + reach + 2 * opening
        both = map_pixels(block, work, depth=depth, dtype=np.float32, n_out=2)
        if factor > 1:
            both = on_native_grid(both, factor, bands)
            return both.isel(out=0).fillna(classes.NODATA).astype(np.uint8), both.isel(out=1)
        return both.isel(out=0).astype(np.uint8), both.isel(out=1)


THIN_VISIBLE_MAX = 0.25  # learned: a cloud pixel darker than this in the visible mean is thin
PROBABILITY_SMOOTHING_PX = 5  # learned: mean of the class probabilities over 5 x 5 work px
SHADOW_LIKE = 0.25  # learned: shadow probability of a candidate for the geometric match
SHADOW_CANDIDATE = 255  # learned: interim code of those candidates until finish()


@dataclass
class LearnedDetector:
    """The LightGBM classifier of :mod:`processes.cloud_learned` on Blue, Green, Red, NIR,
    SWIR1, SWIR2 (trained on a labelled Landsat 7 scene plus clear Sentinel-2 scenes;
    leave-one-block-out kappa in ``benchmarks/accuracy_cloud.py``), run on block means of
    about 30 m. Cloud pixels dimmer than THIN_VISIBLE_MAX in the visible mean are thin
    cloud. Shadows, in :meth:`finish` (it needs the whole cloud mask): the model's shadow
    pixels where a cloud's shadow can fall for the sun azimuth, plus each cloud object's
    footprint matched over height candidates onto pixels the model finds shadow-like
    (:mod:`processes.cloud_shadows`). Azimuth: given, else estimated from the scene."""

    sun_azimuth: float | None = None
    sun_zenith: float | None = None
    scale: str | float = "auto"
    model: Any = None  # a lightgbm Booster; default: the shipped weights
    name: str = "learned"
    gives_probability: bool = True

    def applicable(self, raster: Raster) -> bool:
        return all(find_band(raster, b) for b in RULE_BANDS)

    def detect(
        self, raster: Raster, pixel_m: float, locator: str
    ) -> tuple[xr.DataArray, xr.DataArray]:
        from processes import cloud_learned

        own = [find_band(raster, n) for n in RULE_BANDS]
        bands = to_reflectance(select_bands(raster, RULE_BANDS, locator), self.scale)
        bands = bands.where(valid_mask(raster.data.sel(band=own), raster.nodata))
        factor = max(1, round(cloud_learned.PROCESSING_M / pixel_m))
        bands = aligned_to_blocks(bands, factor)  # validity and block means: one chunking
        work = block_mean(bands, factor)
        work_m = pixel_m * factor
        model = self.model or cloud_learned.booster()

        def block(b: np.ndarray) -> np.ndarray:
            valid = np.isfinite(b).all(axis=0)
            probability = cloud_learned.probabilities(b, work_m, model)
            size = PROBABILITY_SMOOTHING_PX
            probability = np.stack([ndimage.uniform_filter(p, size) for p in probability])
            best = probability.argmax(axis=0)
            out = np.full(valid.shape, classes.CLEAR, dtype=np.float32)
            cloud = best == cloud_learned.CLOUD
            visible = np.nan_to_num(b[:3].mean(axis=0))
            out[best == cloud_learned.SHADOW] = classes.SHADOW
            # shadow-like (by the model, or dark in NIR and SWIR1 and not water) but not the
            # model's first choice: a candidate for the geometric match
            with np.errstate(invalid="ignore", divide="ignore"):
                ndwi = (b[1] - b[3]) / (b[1] + b[3])
            dark = (b[3] < SHADOW_NIR_MAX) & (b[4] < SHADOW_SWIR1_MAX) & (ndwi < 0)
            like = (probability[cloud_learned.SHADOW] > SHADOW_LIKE) | dark
            out[(out == classes.CLEAR) & like] = SHADOW_CANDIDATE
            out[cloud] = classes.CLOUD
            out[cloud & (visible < THIN_VISIBLE_MAX)] = classes.THIN_CLOUD
            out[~valid] = classes.NODATA
            prob = np.where(valid, probability[cloud_learned.CLOUD], np.nan).astype(np.float32)
            return np.stack([out, prob])

        depth = cloud_learned.halo_px(work_m) + PROBABILITY_SMOOTHING_PX
        both = map_pixels(block, work, depth=depth, dtype=np.float32, n_out=2)
        if factor > 1:
            both = on_native_grid(both, factor, bands)
            return both.isel(out=0).fillna(classes.NODATA).astype(np.uint8), both.isel(out=1)
        return both.isel(out=0).astype(np.uint8), both.isel(out=1)

    def finish(self, mask: np.ndarray, pixel_m: float) -> tuple[np.ndarray, dict[str, Any]]:
        """Shadows from geometry (in place, see the class); returns the mask and details."""
        from processes.cloud_shadows import (
            DEFAULT_ZENITH,
            estimate_azimuth,
            match_shadows,
            shadow_zone,
        )

        candidate = mask == SHADOW_CANDIDATE
        mask[candidate] = classes.CLEAR
        cloud = (mask == classes.CLOUD) | (mask == classes.THIN_CLOUD)
        shadow = mask == classes.SHADOW
        shadow_like = shadow | candidate
        azimuth, source = self.sun_azimuth, "given"
        if azimuth is None:
            azimuth, source = estimate_azimuth(cloud, shadow_like, pixel_m), "estimated"
        info: dict[str, Any] = {"sun_azimuth": azimuth, "sun_azimuth_source": source}
        if azimuth is None:  # no cloud object to match: no cloud, no cloud shadow
            info["shadow_dropped_no_cloud_px"] = int(shadow.sum())
            mask[shadow] = classes.CLEAR
            return mask, info
        zenith = self.sun_zenith if self.sun_zenith is not None else DEFAULT_ZENITH
        outside = shadow & ~shadow_zone(cloud, pixel_m, azimuth, zenith)
        mask[outside] = classes.CLEAR
        matched = match_shadows(cloud, shadow_like, pixel_m, azimuth, zenith) & (mask != 0)
        mask[matched & (mask == classes.CLEAR)] = classes.SHADOW
        info["shadow_dropped_outside_zone_px"] = int(outside.sum())
        info["shadow_matched_px"] = int(matched.sum())
        return mask, info


# Sentinel-2 L2A scene classification -> our classes (0 no data, 1 saturated/defective).
SCL_TO_CLASS = {
    0: classes.NODATA,
    1: classes.NODATA,
    2: classes.CLEAR,
    3: classes.SHADOW,
    4: classes.CLEAR,
    5: classes.CLEAR,
    6: classes.CLEAR,
    7: classes.CLEAR,
    8: classes.CLOUD,
    9: classes.CLOUD,
    10: classes.THIN_CLOUD,
    11: classes.CLEAR,
}


@dataclass
class SclDetector:
    """Sentinel-2 L2A SCL band re-coded: 8/9 cloud, 10 thin cirrus, 3 shadow, 0/1 nodata."""

    name: str = "scl"
    gives_probability: bool = False

    def applicable(self, raster: Raster) -> bool:
        return find_band(raster, "scl") is not None

    def detect(self, raster: Raster, pixel_m: float, locator: str) -> tuple[xr.DataArray, None]:
        scl = select_bands(raster, ("scl",), locator)
        lookup = np.zeros(256, dtype=np.uint8)
        for code, cls in SCL_TO_CLASS.items():
            lookup[code] = cls

        def block(b: np.ndarray) -> np.ndarray:
            codes = np.nan_to_num(b[0], nan=0).astype(np.int64).clip(0, 255)
            return lookup[codes]

        return map_pixels(block, scl), None


DETECTORS = ("learned", "rules", "s2cloudless", "scl")
