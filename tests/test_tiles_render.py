"""The renderer without MapProxy: styles per product type, mask palettes, TIME choice,
nodata transparency and reprojection by rio-tiler."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin

from ogcsdl.catalogue.record import Band
from ogcsdl.errors import InvalidParameterValue
from ogcsdl.tiles.demo import make_s1_product, make_s2_product, write_cog
from ogcsdl.tiles.renderer import parse_getmap, render_png, select_products
from ogcsdl.tiles.styles import CLASS_PALETTES, resolve_style, styles_for


def _rgba(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _request(record, style: str = "", crs: str = "EPSG:4326", size: int = 64):  # type: ignore[no-untyped-def]
    west, south, east, north = record.bbox
    return parse_getmap(
        {
            "crs": crs,
            "bbox": f"{south},{west},{north},{east}",
            "width": str(size),
            "height": str(size),
            "layers": record.identifier,
            "styles": style,
        }
    )


def test_styles_follow_the_bands(tmp_path: Path) -> None:
    s2 = make_s2_product(tmp_path, "s2")
    s1 = make_s1_product(tmp_path, "s1")
    assert [s.name for s in styles_for(s2)] == ["true-colour", "false-colour", "ndvi", "swir"]
    assert [s.name for s in styles_for(s1)] == ["vv", "vh", "vv-vh"]
    with pytest.raises(KeyError):
        resolve_style(s1, "ndvi")


def test_mask_product_uses_its_class_palette(tmp_path: Path) -> None:
    data = np.zeros((1, 64, 64), dtype="uint8")
    data[0, :, 32:] = 1
    write_cog(tmp_path / "flood.tif", data, "EPSG:32633", from_origin(600000, 6580000, 20, 20), 255)
    s2 = make_s2_product(tmp_path, "base", size=64)
    mask = replace(
        s2,
        identifier="flood-1",
        collection="flood-mask",
        bands=[Band("flood")],
        file_path=str(tmp_path / "flood.tif"),
        dtype="uint8",
        nodata=255,
    )
    assert styles_for(mask)[0].name == "flood-classes"
    rgba = _rgba(render_png([mask], _request(mask, size=64)))
    flooded = rgba[32, 60]
    assert tuple(flooded) == CLASS_PALETTES["flood"][1]
    assert rgba[32, 4, 3] == 0  # class 0 is transparent


def test_nodata_is_transparent_and_reprojection_keeps_the_footprint(tmp_path: Path) -> None:
    record = make_s2_product(tmp_path, "s2", size=128)
    rgba = _rgba(render_png([record], _request(record, size=128)))
    assert (rgba[:4, :, 3] == 0).all()  # the 16 nodata rows at the top
    assert (rgba[64, 10:118, 3] == 255).all()
    with rasterio.open(record.file_path) as source:
        assert source.crs.to_epsg() == 32633  # drawn in EPSG:4326: warped by rio-tiler


def test_time_selection_latest_instant_and_range(tmp_path: Path) -> None:
    t1, t2 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
    a = make_s2_product(tmp_path, "a", start=t1, size=32)
    b = make_s2_product(tmp_path, "b", start=t2, size=32)
    assert select_products([a, b], None) == [b]
    assert select_products([a, b], "2024-01-01T00:00:00Z") == [a]
    assert select_products([a, b], "2023-12-01/2024-03-01") == [b, a]
    assert select_products([a, b], "2024-01-01") == [a]  # a date means midnight UTC
    precise = replace(b, start=datetime(2024, 2, 1, 0, 0, 0, 250000))  # naive, sub-second
    assert select_products([a, precise], "2024-02-01T00:00:00Z") == [precise]
    with pytest.raises(InvalidParameterValue):
        select_products([a, b], "yesterday")


def test_bad_getmap_parameters_are_client_errors() -> None:
    with pytest.raises(InvalidParameterValue):
        parse_getmap(
            {"crs": "EPSG:4326", "bbox": "1,2,3", "width": "10", "height": "10", "layers": "x"}
        )
    with pytest.raises(InvalidParameterValue):
        parse_getmap(
            {"crs": "EPSG:4326", "bbox": "1,2,3,4", "width": "99999", "height": "10", "layers": "x"}
        )
