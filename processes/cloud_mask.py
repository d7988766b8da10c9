"""``cloud-mask``: clear / cloud / thin cloud / shadow classes, cloud probability (where the
method gives one) and cloud cover % over an area of interest."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
from pyproj import Transformer
from pyproj.exceptions import CRSError

from processes import classes
from processes.base import (
    BoundingBoxInput,
    ComplexOutput,
    LiteralInput,
    LiteralOutput,
    ProcessContext,
    ProcessDescription,
    Raster,
    RasterInput,
    RasterOutput,
    hand_over,
)
from processes.cloud_detectors import (
    RULE_BANDS,
    S2CLOUDLESS_BANDS,
    CloudDetector,
    LearnedDetector,
    RuleBasedDetector,
    S2CloudlessDetector,
    SclDetector,
)
from processes.cloud_shadows import sun_position
from processes.errors import ProcessInputError
from processes.raster_ops import aoi_mask, class_raster, compute, float_raster, pixel_size_m

METHODS = ("auto", "learned", "s2cloudless", "rules", "scl")
AUTO_ORDER = ("scl", "learned", "s2cloudless", "rules")


def sun_angles(raster: Raster, inputs: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(azimuth, zenith) in degrees: the inputs, else the product's metadata (``sun_azimuth``
    / ``sun_zenith`` tags as in MTD_TL.xml), else computed from the acquisition time at the
    scene centre; (None, None) when none of these is known."""
    azimuth, zenith = inputs.get("sun_azimuth"), inputs.get("sun_zenith")
    meta = raster.metadata
    for key, value in (("sun_azimuth", azimuth), ("sun_zenith", zenith)):
        if value is None and meta.get(key) not in (None, ""):
            try:
                number = float(meta[key])
            except (TypeError, ValueError):
                continue
            azimuth, zenith = (number, zenith) if key == "sun_azimuth" else (azimuth, number)
    if azimuth is None and meta.get("start"):
        try:
            when = datetime.fromisoformat(str(meta["start"]).replace("Z", "+00:00"))
            h, w = raster.data.sizes["y"], raster.data.sizes["x"]
            x, y = raster.transform @ (w / 2, h / 2)
            lon, lat = Transformer.from_crs(raster.crs, "EPSG:4326", always_xy=True).transform(x, y)
            computed = sun_position(when, lon, lat)
        except (ValueError, CRSError):
            return None, zenith
        azimuth = computed[0]
        zenith = computed[1] if zenith is None else zenith
    return (
        None if azimuth is None else float(azimuth),
        None if zenith is None else float(zenith),
    )


def valid_pixels(mask: np.ndarray, region: np.ndarray | None = None) -> int:
    """Pixels of ``mask`` with a class (not nodata), within ``region`` if given."""
    valid = mask != classes.NODATA
    return int(np.count_nonzero(valid if region is None else valid & region))


def cloud_cover(
    mask: np.ndarray, region: np.ndarray | None = None
) -> tuple[float, dict[str, float]]:
    """Cloud cover % (cloud + thin cloud over valid pixels) and every class's % share
    (``region``: None for the whole mask, which saves a pass per class over it)."""
    total = valid_pixels(mask, region)

    def count(code: int) -> int:
        found = mask == code
        return int(np.count_nonzero(found if region is None else found & region))

    shares = {
        name: (100.0 * count(code) / total if total else 0.0)
        for code, name in classes.CLOUD_CLASSES.items()
        if code != classes.NODATA
    }
    return shares["cloud"] + shares["thin cloud"], shares


def choose_detector(raster: Raster, method: str, inputs: Mapping[str, Any]) -> CloudDetector:
    scale = "auto"  # integer -> DN x 10000, float -> reflectance (see to_reflectance)
    shadow_m = float(inputs.get("shadow_distance", 1200.0))
    candidates: dict[str, CloudDetector] = {
        "scl": SclDetector(),
        "s2cloudless": S2CloudlessDetector(
            threshold=float(inputs.get("threshold", 0.4)),
            shadow_distance_m=shadow_m,
            scale=scale,
            processing_m=inputs.get("processing_resolution"),
        ),
        "rules": RuleBasedDetector(shadow_distance_m=shadow_m, scale=scale),
        "learned": LearnedDetector(*sun_angles(raster, inputs), scale=scale),
    }
    if method == "auto":
        for name in AUTO_ORDER:
            if candidates[name].applicable(raster):
                return candidates[name]
        raise ProcessInputError(
            "The product has neither an SCL band, nor the 10 s2cloudless bands "
            f"({', '.join(S2CLOUDLESS_BANDS)}), nor the 6 bands {', '.join(RULE_BANDS)}; "
            f"it has {', '.join(raster.band_names)}.",
            locator="product",
        )
    return candidates[method]


class CloudMask:
    description = ProcessDescription(
        id="cloud-mask",
        version="1.0.0",
        title="Cloud and cloud-shadow mask",
        abstract=(
            "Classifies a Sentinel-2 L1C/L2A product (or any coverage with the needed bands) "
            "into 0 nodata, 1 clear, 2 cloud, 3 thin cloud, 4 shadow. Methods: 'learned' (a LightGBM "
            "classifier on Blue, Green, Red, NIR, SWIR1, SWIR2 with multi-scale context, trained on "
            "a labelled Landsat 7 scene; shadows kept only where a cloud's shadow can fall for the "
            "sun azimuth), 's2cloudless' (10 S2 bands, gives a probability), 'rules' (spectral "
            "tests, finds shadows too), 'scl' (L2A scene classification), 'auto' (the first of "
            "scl, learned, s2cloudless, rules the bands allow). Sun angles: the inputs, else the "
            "product's metadata or acquisition time, else estimated from the scene. Integer "
            "inputs are reflectance x 10000."
        ),
        keywords=("cloud", "shadow", "Sentinel-2", "s2cloudless"),
        inputs=(
            RasterInput(
                "product", "Optical product", "Sentinel-2 L1C/L2A or a multi-band coverage."
            ),
            LiteralInput(
                "method",
                "Detection method",
                "string",
                default="auto",
                min_occurs=0,
                allowed_values=METHODS,
            ),
            LiteralInput(
                "threshold",
                "s2cloudless probability threshold",
                "float",
                default=0.4,
                min_occurs=0,
                minimum=0.0,
                maximum=1.0,
            ),
            LiteralInput(
                "shadow_distance",
                "How far from a cloud its shadow may fall",
                "float",
                abstract="metres",
                default=1200.0,
                min_occurs=0,
                minimum=0.0,
                maximum=10000.0,
            ),
            LiteralInput(
                "processing_resolution",
                "s2cloudless: run the model on block means of this size",
                "float",
                abstract="metres, e.g. 60 or 160 (as the s2cloudless authors) to save time on "
                "large images; results are returned on the native grid. Default: native.",
                min_occurs=0,
                minimum=0.0,
                maximum=1000.0,
            ),
            LiteralInput(
                "sun_azimuth",
                "Sun azimuth (degrees clockwise from north) for the shadow geometry",
                "float",
                abstract="Default: the product's metadata or acquisition time; else estimated.",
                min_occurs=0,
                minimum=0.0,
                maximum=360.0,
            ),
            LiteralInput(
                "sun_zenith",
                "Sun zenith angle (degrees) for the shadow geometry",
                "float",
                abstract="Default: the product's metadata or acquisition time; else 40.",
                min_occurs=0,
                minimum=0.0,
                maximum=89.0,
            ),
            BoundingBoxInput("aoi", "Area of interest for the cloud cover", min_occurs=0),
        ),
        outputs=(
            RasterOutput(
                "mask",
                "Cloud classes",
                "cloud-mask",
                style="cloud-classes",
                abstract="uint8: 0 nodata, 1 clear, 2 cloud, 3 thin cloud, 4 shadow",
            ),
            RasterOutput(
                "probability",
                "Cloud probability",
                "cloud-probability",
                style="probability",
                abstract="float32 0..1; only present when the method gives one (learned, s2cloudless)",
            ),
            LiteralOutput("cloud_cover", "Cloud cover over the area of interest", "float", uom="%"),
            LiteralOutput(
                "product_cloud_cover",
                "Cloud cover over the whole product",
                "float",
                abstract="Written to the product's catalogue record.",
                uom="%",
                catalogue_field="cloud_cover",
            ),
            ComplexOutput(
                "statistics", "Class shares (%), method and pixel counts", ("application/json",)
            ),
        ),
    )

    def run(self, inputs: Mapping[str, Any], context: ProcessContext) -> dict[str, Any]:
        product: Raster = inputs["product"]
        method = str(inputs.get("method", "auto"))
        detector = choose_detector(product, method, inputs)
        if not detector.applicable(product):
            needed = {
                "scl": ("scl",),
                "s2cloudless": S2CLOUDLESS_BANDS,
                "rules": RULE_BANDS,
                "learned": RULE_BANDS,
            }[detector.name]
            raise ProcessInputError(
                f"Method '{detector.name}' needs the bands {', '.join(needed)}; the product has "
                f"{', '.join(product.band_names)}.",
                locator="method",
            )
        context.progress(2, f"cloud detection ({detector.name})")
        height = product.data.sizes["y"]
        classes_lazy, probability_lazy = detector.detect(
            product, pixel_size_m(product.crs, product.transform, height), "product"
        )
        arrays = [classes_lazy] + ([probability_lazy] if probability_lazy is not None else [])
        computed = compute(context, 5, 95, f"cloud detection ({detector.name})", *arrays)
        outputs: dict[str, Any] = {}
        if probability_lazy is not None:  # final now: written while the shadows are found
            outputs["probability"] = float_raster(computed[1], product, "cloud_probability")
            hand_over(context, "probability", outputs["probability"])
        mask = computed[0].astype(np.uint8)
        geometry: dict[str, Any] = {}
        if isinstance(detector, LearnedDetector):
            context.progress(95, "shadow geometry")
            mask, geometry = detector.finish(
                mask, pixel_size_m(product.crs, product.transform, height)
            )
        outputs["mask"] = class_raster(mask, product, "cloud_class", classes.CLOUD_CLASSES)
        hand_over(context, "mask", outputs["mask"])
        aoi = inputs.get("aoi")
        region = None if aoi is None else aoi_mask(aoi, product.crs, product.transform, mask.shape)
        cover, shares = cloud_cover(mask, region)
        product_cover = cover if region is None else cloud_cover(mask)[0]
        outputs.update(
            {
                "cloud_cover": round(cover, 3),
                "product_cloud_cover": round(product_cover, 3),
                "statistics": {
                    "method": detector.name,
                    **geometry,
                    "class_percent": {k: round(v, 3) for k, v in shares.items()},
                    "valid_pixels": valid_pixels(mask, region),
                    "classes": {str(k): v for k, v in classes.CLOUD_CLASSES.items()},
                },
            }
        )
        context.progress(100, "done")
        return outputs
