"""Class codes of every classified raster the processors write, shared with the tile
renderer's palettes (``ogcsdl.tiles``) so a published mask is drawn the same everywhere.

Code 0 is always "no data" (outside the image, missing input, or masked): COG outputs
declare ``nodata=0`` and the renderer makes it transparent.
"""

from __future__ import annotations

NODATA = 0

# cloud-mask "mask" output
CLEAR = 1
CLOUD = 2
THIN_CLOUD = 3
SHADOW = 4
CLOUD_CLASSES = {
    NODATA: "nodata",
    CLEAR: "clear",
    CLOUD: "cloud",
    THIN_CLOUD: "thin cloud",
    SHADOW: "shadow",
}

# change-detection "change" output
NO_CHANGE = 1
CHANGE = 2
CHANGE_CLASSES = {NODATA: "nodata", NO_CHANGE: "no change", CHANGE: "change"}

# flood-mapping "water" output
DRY = 1
WATER = 2  # water now (and, with a pre-event image, also before: permanent water)
NEW_WATER = 3  # water now that was dry in the pre-event image (the flood)
FLOOD_CLASSES = {NODATA: "nodata", DRY: "dry", WATER: "water", NEW_WATER: "new water (flood)"}

# Suggested RGBA colours per style name; the renderer may import these as its palettes.
PALETTES: dict[str, dict[int, tuple[int, int, int, int]]] = {
    "cloud-classes": {
        NODATA: (0, 0, 0, 0),
        CLEAR: (60, 160, 60, 255),
        CLOUD: (255, 255, 255, 255),
        THIN_CLOUD: (170, 220, 255, 255),
        SHADOW: (60, 60, 60, 255),
    },
    "change-classes": {
        NODATA: (0, 0, 0, 0),
        NO_CHANGE: (200, 200, 200, 255),
        CHANGE: (230, 30, 30, 255),
    },
    "flood-classes": {
        NODATA: (0, 0, 0, 0),
        DRY: (230, 220, 190, 255),
        WATER: (30, 90, 200, 255),
        NEW_WATER: (0, 220, 255, 255),
    },
}
