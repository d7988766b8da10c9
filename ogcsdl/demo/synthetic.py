"""A small synthetic landscape seen by Sentinel-2 and Sentinel-1: lake, forest, fields,
bare soil and a town, with clouds and their shadows for the optical sensor and a flood
for the radar. Numbers are typical published values; the point is data that behaves like
the real thing (NDVI of forest ~0.8, water dark in NIR and in SAR), not a simulation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WATER, FOREST, CROP, BARE, URBAN = range(5)

# Surface (BOA) reflectance per class, Sentinel-2 band order B01..B12 incl. B8A.
_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
_SURFACE = np.array(
    [
        # B01   B02   B03   B04   B05   B06   B07   B08   B8A   B09   B10    B11   B12
        [0.050, 0.045, 0.040, 0.028, 0.020, 0.015, 0.012, 0.010, 0.009, 0.005, 0.001, 0.005, 0.003],
        [0.030, 0.028, 0.050, 0.025, 0.080, 0.240, 0.300, 0.330, 0.340, 0.110, 0.002, 0.160, 0.075],
        [0.040, 0.040, 0.080, 0.050, 0.120, 0.300, 0.380, 0.420, 0.430, 0.140, 0.002, 0.220, 0.110],
        [0.080, 0.090, 0.120, 0.160, 0.190, 0.210, 0.230, 0.250, 0.260, 0.090, 0.003, 0.330, 0.270],
        [0.100, 0.100, 0.110, 0.120, 0.140, 0.150, 0.160, 0.170, 0.180, 0.060, 0.003, 0.200, 0.170],
    ]
)
_CLOUD = np.array([0.55, 0.56, 0.57, 0.58, 0.59, 0.60, 0.60, 0.61, 0.61, 0.35, 0.25, 0.45, 0.34])
# What the atmosphere adds at the top (L1C): strong in the blue, small in the SWIR.
_PATH_RADIANCE = np.array(
    [0.080, 0.060, 0.035, 0.020, 0.016, 0.013, 0.011, 0.010, 0.009, 0.004, 0.0, 0.002, 0.001]
)
# Sentinel-1 sigma0 in dB per class (VV, VH): water is specular and dark, towns bright.
_SIGMA0_DB = np.array([[-22.0, -29.0], [-7.5, -13.0], [-10.0, -17.0], [-13.0, -21.0], [-2.0, -9.0]])


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale_px: float) -> np.ndarray:
    """Spatially correlated noise scaled to 0..1 (white noise low-passed in Fourier space)."""
    noise = rng.standard_normal(shape)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    kernel = np.exp(-2 * (np.pi * scale_px) ** 2 * (fx**2 + fy**2))
    field = np.real(np.fft.ifft2(np.fft.fft2(noise) * kernel))
    return (field - field.min()) / (np.ptp(field) or 1.0)


@dataclass
class Landscape:
    classes: np.ndarray  # uint8 class per 10 m pixel
    elevation: np.ndarray  # 0..1, low ground floods first
    texture: np.ndarray  # multiplicative within-class variation


def make_landscape(size: int, seed: int = 42) -> Landscape:
    rng = np.random.default_rng(seed)
    shape = (size, size)
    elevation = 0.7 * smooth_noise(rng, shape, size / 8) + 0.3 * np.linspace(0, 1, size)[None, :]
    classes = np.full(shape, FOREST, dtype=np.uint8)
    # Fields: rectangular parcels on the lower, flatter ground.
    parcel = max(8, size // 16)
    rows = np.arange(size)[:, None] // parcel
    cols = np.arange(size)[None, :] // (parcel + parcel // 2)
    parcel_kind = rng.choice([CROP, CROP, BARE], size=(rows.max() + 1, cols.max() + 1))
    lowland = elevation < np.quantile(elevation, 0.55)
    classes[lowland] = parcel_kind[rows, cols][lowland]
    town = smooth_noise(rng, shape, size / 20)
    classes[(town > np.quantile(town, 0.93)) & ~lowland] = URBAN
    classes[elevation < np.quantile(elevation, 0.16)] = WATER
    texture = 1.0 + 0.12 * (smooth_noise(rng, shape, 2.0) - 0.5)
    return Landscape(classes, elevation, texture)


@dataclass
class OpticalScene:
    reflectance: np.ndarray  # (13, size, size) float32, order of _BANDS
    cloud: np.ndarray  # 0..1 cloud optical thickness proxy
    shadow: np.ndarray  # bool
    valid: np.ndarray  # bool: inside the swath
    classes: np.ndarray  # land cover on this date (harvested parcels are bare)
    band_names: tuple[str, ...] = _BANDS

    @property
    def cloud_cover_percent(self) -> float:
        inside = self.valid.sum()
        return float(100.0 * ((self.cloud > 0.2) & self.valid).sum() / max(inside, 1))


def swath_edge(size: int) -> np.ndarray:
    """Pixels inside the satellite's swath: the tile's corner beyond the edge is nodata."""
    rows, cols = np.mgrid[0:size, 0:size]
    return cols + 0.45 * rows < 1.2 * size


def make_optical(
    land: Landscape, seed: int, cloud_fraction: float, top_of_atmosphere: bool
) -> OpticalScene:
    rng = np.random.default_rng(seed)
    size = land.classes.shape[0]
    classes = land.classes.copy()
    # Seasonal change: some crop parcels are harvested on one date and not the other.
    if seed % 2:
        harvested = (classes == CROP) & (smooth_noise(rng, (size, size), size / 10) > 0.66)
        classes[harvested] = BARE
    surface = _SURFACE[classes].transpose(2, 0, 1) * land.texture[None]
    surface += rng.normal(0, 0.003, surface.shape)
    field = smooth_noise(rng, (size, size), size / 25)
    threshold = np.quantile(field, 1 - cloud_fraction) if cloud_fraction > 0 else 2.0
    cloud = np.clip((field - threshold) / 0.08, 0, 1)
    # Shadows fall away from the sun (south-south-east in a Swedish summer morning).
    offset_rows, offset_cols = size // 20, -size // 25
    shadow_source = np.roll(cloud, (offset_rows, offset_cols), axis=(0, 1))
    shadow = (shadow_source > 0.3) & (cloud < 0.2)
    surface[:, shadow] *= 0.35
    reflectance = surface * (1 - cloud[None]) + _CLOUD[:, None, None] * cloud[None]
    if top_of_atmosphere:
        reflectance = reflectance + _PATH_RADIANCE[:, None, None] * (1 - cloud[None])
    return OpticalScene(reflectance.astype(np.float32), cloud, shadow, swath_edge(size), classes)


def scene_classification(scene: OpticalScene) -> np.ndarray:
    """What Sen2Cor's SCL would say about this scene (10 m; the writer samples 20 m)."""
    scl = np.where(np.isin(scene.classes, (FOREST, CROP)), 4, 5).astype(np.uint8)
    scl[scene.classes == WATER] = 6
    scl[scene.shadow] = 3
    scl[(scene.cloud > 0.05) & (scene.cloud <= 0.2)] = 10
    scl[(scene.cloud > 0.2) & (scene.cloud <= 0.6)] = 8
    scl[scene.cloud > 0.6] = 9
    scl[~scene.valid] = 0
    return scl


def make_sar(land: Landscape, seed: int, flooded: bool) -> np.ndarray:
    """(2, size, size) float32 sigma0 in dB (VV, VH) with speckle; NaN outside the swath."""
    rng = np.random.default_rng(seed)
    classes = land.classes.copy()
    if flooded:
        # The lake overflows onto the lowest fields and meadows.
        classes[(land.elevation < np.quantile(land.elevation, 0.30)) & (classes != URBAN)] = WATER
    linear = 10 ** (_SIGMA0_DB[classes].transpose(2, 0, 1) / 10)
    looks = 4.4  # equivalent number of looks of IW GRD high resolution
    speckle = rng.gamma(looks, 1 / looks, linear.shape)
    sigma0_db = 10 * np.log10(linear * speckle * land.texture[None])
    size = classes.shape[0]
    rows, cols = np.mgrid[0:size, 0:size]
    sigma0_db[:, cols < 0.08 * size - 0.05 * rows] = np.nan  # slanted swath edge
    return sigma0_db.astype(np.float32)
