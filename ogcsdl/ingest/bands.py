"""What the suite knows about Sentinel bands: names, wavelengths, native resolutions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ogcsdl.catalogue.record import Band

S2_DN_UNIT = "reflectance x 10000"


@dataclass(frozen=True)
class S2BandInfo:
    name: str
    common_name: str
    center_um: float
    fwhm_um: float
    resolution_m: int


# Sentinel-2 MSI (S2A values; S2B differs by a few nanometres). Order is the product order.
S2_BANDS: tuple[S2BandInfo, ...] = (
    S2BandInfo("B01", "coastal", 0.443, 0.027, 60),
    S2BandInfo("B02", "blue", 0.490, 0.098, 10),
    S2BandInfo("B03", "green", 0.560, 0.045, 10),
    S2BandInfo("B04", "red", 0.665, 0.038, 10),
    S2BandInfo("B05", "rededge1", 0.705, 0.019, 20),
    S2BandInfo("B06", "rededge2", 0.740, 0.018, 20),
    S2BandInfo("B07", "rededge3", 0.783, 0.028, 20),
    S2BandInfo("B08", "nir", 0.842, 0.145, 10),
    S2BandInfo("B8A", "nir08", 0.865, 0.033, 20),
    S2BandInfo("B09", "nir09", 0.945, 0.026, 60),
    S2BandInfo("B10", "cirrus", 1.375, 0.075, 60),
    S2BandInfo("B11", "swir16", 1.610, 0.143, 20),
    S2BandInfo("B12", "swir22", 2.190, 0.242, 20),
)
S2_BY_NAME = {info.name: info for info in S2_BANDS}
S2_ORDER = [info.name for info in S2_BANDS] + ["SCL"]

# Scene classification of Sen2Cor (the L2A SCL band): categorical, never interpolated.
SCL_CLASSES = {
    0: "no data",
    1: "saturated or defective",
    2: "dark area pixels",
    3: "cloud shadows",
    4: "vegetation",
    5: "not vegetated",
    6: "water",
    7: "unclassified",
    8: "cloud medium probability",
    9: "cloud high probability",
    10: "thin cirrus",
    11: "snow",
}

_S2_NAME = re.compile(r"^B(?:0?([1-9])|(1[0-2])|(8A))$", re.IGNORECASE)


def canonical_s2_name(text: str) -> str | None:
    """``"B1"``, ``"b01"``, ``"B8a"`` -> ``"B01"``, ``"B01"``, ``"B8A"``; ``"SCL"`` stays;
    anything else -> None."""
    text = text.strip()
    if text.upper() == "SCL":
        return "SCL"
    match = _S2_NAME.match(text)
    if not match:
        return None
    single, double, nir_narrow = match.groups()
    if nir_narrow:
        return "B8A"
    return f"B{int(single or double):02d}"


def s2_band(name: str, center_um: float | None = None, fwhm_um: float | None = None) -> Band:
    """The :class:`Band` for a canonical Sentinel-2 band name (wavelengths from the product
    metadata win over the table when given)."""
    if name == "SCL":
        return Band("SCL", "Scene classification (Sen2Cor)", None, None, "class")
    info = S2_BY_NAME[name]
    return Band(
        name,
        info.common_name,
        center_um if center_um is not None else info.center_um,
        fwhm_um if fwhm_um is not None else info.fwhm_um,
        S2_DN_UNIT,
    )


def s2_sort_key(name: str) -> int:
    return S2_ORDER.index(name) if name in S2_ORDER else len(S2_ORDER)


def platform_from_prefix(prefix: str) -> str | None:
    """``"S2A"`` -> ``"Sentinel-2A"``, ``"S1B"`` -> ``"Sentinel-1B"``."""
    match = re.fullmatch(r"S([12])([A-D])", prefix.upper())
    return f"Sentinel-{match.group(1)}{match.group(2)}" if match else None
