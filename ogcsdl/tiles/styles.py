"""Rendering styles as data: which bands, how to rescale them, which colour map.

A style applies to a product when the product has all the bands the style names. The
first applicable style of a product is its default (what a client gets without STYLES).
A style the product declares (``extra["style"]``, set from a process output's
``RasterOutput.style``) comes first and wins over any guess from names; a class palette
is guessed from the collection or band name only for undeclared single-band integer
rasters, because a float layer (a probability, a magnitude) is never a class mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rio_tiler.colormap import cmap

from ogcsdl.catalogue.record import ProductRecord
from processes.classes import PALETTES

# Class palettes for the masks the processes write: the processes own the class codes
# and their colours (processes/classes.py), so a mask is drawn as it was classified.
CLASS_PALETTES: dict[str, dict[int, tuple[int, int, int, int]]] = {
    name.removesuffix("-classes"): palette for name, palette in PALETTES.items()
}


@dataclass(frozen=True)
class Style:
    name: str
    title: str
    # Band names (for composites) or names used in ``expression`` (for indices);
    # empty: the product's first band (single-band ramps that apply to any name).
    bands: tuple[str, ...]
    # One (min, max) per output band, mapped linearly onto 0..255.
    rescale: tuple[tuple[float, float], ...] = ()
    # A rio-tiler expression over band names, e.g. "(B08-B04)/(B08+B04)".
    expression: str | None = None
    colormap_name: str | None = None
    palette: dict[int, tuple[int, int, int, int]] | None = field(default=None, hash=False)

    def colormap(self) -> dict[int, tuple[int, int, int, int]] | None:
        if self.palette is not None:
            return self.palette
        if self.colormap_name is not None:
            colours = cmap.get(self.colormap_name)
            assert isinstance(colours, dict)
            return {int(key): value for key, value in colours.items()}
        return None


_OPTICAL = (
    Style("true-colour", "True colour (B04, B03, B02)", ("B04", "B03", "B02"), ((0, 3000),) * 3),
    Style(
        "false-colour",
        "False colour (NIR, red, green)",
        ("B08", "B04", "B03"),
        ((0, 5000), (0, 3000), (0, 3000)),
    ),
    Style(
        "ndvi",
        "NDVI (red-yellow-green ramp)",
        ("B08", "B04"),
        ((-1, 1),),
        expression="(B08-B04)/(B08+B04)",
        colormap_name="rdylgn",
    ),
    Style("swir", "SWIR composite (B12, B08, B04)", ("B12", "B08", "B04"), ((0, 5000),) * 3),
)
_SAR = (
    Style("vv", "VV backscatter (dB)", ("VV",), ((-25, 0),)),
    Style("vh", "VH backscatter (dB)", ("VH",), ((-30, -5),)),
    Style(
        "vv-vh",
        "VV, VH, VV/VH composite (dB)",
        ("VV", "VH"),
        ((-25, 0), (-30, -5), (0, 15)),
        expression="VV;VH;VV-VH",
    ),
)
_MASKS = tuple(
    Style(f"{kind}-classes", f"{kind.capitalize()} classes", ("mask",), palette=palette)
    for kind, palette in CLASS_PALETTES.items()
)
# Continuous single-band outputs, drawn as a colour ramp over a fixed physical range.
_RAMPS = (
    Style("probability", "Probability 0-1 (viridis ramp)", (), ((0, 1),), colormap_name="viridis"),
    # change-detection magnitude: standardised RMS difference (optical) or |log-ratio| dB.
    Style("magnitude", "Change magnitude 0-6 (magma ramp)", (), ((0, 6),), colormap_name="magma"),
)
STYLES: dict[str, Style] = {style.name: style for style in (*_OPTICAL, *_SAR, *_MASKS, *_RAMPS)}

GREY = "grey"


def declared_style(record: ProductRecord) -> Style | None:
    """The style the product names itself (a process output's ``RasterOutput.style``)."""
    return STYLES.get(str(record.extra.get("style", "")))


def _guessed_mask(record: ProductRecord) -> Style | None:
    """A class palette guessed from the collection or band name, for undeclared
    single-band integer rasters only."""
    if len(record.bands) != 1 or not record.dtype.startswith(("uint", "int")):
        return None
    for kind in CLASS_PALETTES:
        if kind in record.collection or kind in record.band_names[0].lower():
            return STYLES[f"{kind}-classes"]
    return None


def styles_for(record: ProductRecord) -> list[Style]:
    """The styles that apply to a product, default first; a grey stretch as fallback."""
    names = set(record.band_names)
    found = [style for style in (*_OPTICAL, *_SAR) if set(style.bands) <= names]
    first = declared_style(record) or _guessed_mask(record)
    if first is not None:
        found = [first, *(style for style in found if style != first)]
    if not found:
        found.append(grey_style(record))
    return found


def grey_style(record: ProductRecord) -> Style:
    """First band stretched over its data type's usual range (generic rasters)."""
    low, high = (0.0, 255.0) if record.dtype == "uint8" else (0.0, 10000.0)
    if record.dtype.startswith("float"):
        low, high = (0.0, 1.0)
    return Style(GREY, "Grey (first band)", (record.band_names[0],), ((low, high),))


def resolve_style(record: ProductRecord, name: str | None) -> Style:
    """The named style for this product (default when empty); KeyError when unknown."""
    available = styles_for(record)
    if not name or name == "default":
        return available[0]
    for style in available:
        if style.name == name:
            return style
    raise KeyError(name)
