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
from ogcsdl.tiles.renderer import parse_getmap, render_image, select_products
from ogcsdl.tiles.styles import resolve_style, styles_for
from processes import classes
from tests.view_fixtures import make_s1_product, make_s2_product, write_cog


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
    data[0, :, 32:] = classes.NEW_WATER
    data[0, :, 16:32] = classes.DRY
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
    rgba = _rgba(render_image([mask], _request(mask, size=64)))
    assert tuple(rgba[32, 60]) == classes.PALETTES["flood-classes"][classes.NEW_WATER]
    assert tuple(rgba[32, 20]) == classes.PALETTES["flood-classes"][classes.DRY]
    assert tuple(rgba[32, 60]) != tuple(rgba[32, 20])
    assert rgba[32, 4, 3] == 0  # class 0 is transparent


def test_process_output_uses_the_style_it_declares(tmp_path: Path) -> None:
    data = np.full((1, 64, 64), classes.CLEAR, dtype="uint8")
    data[0, :32, :] = classes.SHADOW
    write_cog(tmp_path / "m.tif", data, "EPSG:32633", from_origin(600000, 6580000, 20, 20), 0)
    s2 = make_s2_product(tmp_path, "base2", size=64)
    mask = replace(
        s2,
        identifier="cloud-mask-mask-job",
        collection="cloud-mask",
        bands=[Band("cloud_class")],
        file_path=str(tmp_path / "m.tif"),
        dtype="uint8",
        nodata=0,
        extra={"style": "cloud-classes"},
    )
    assert styles_for(mask)[0].name == "cloud-classes"
    rgba = _rgba(render_image([mask], _request(mask, size=64)))
    assert tuple(rgba[10, 32]) == classes.PALETTES["cloud-classes"][classes.SHADOW]
    assert tuple(rgba[50, 32]) == classes.PALETTES["cloud-classes"][classes.CLEAR]


def test_nodata_is_transparent_and_reprojection_keeps_the_footprint(tmp_path: Path) -> None:
    record = make_s2_product(tmp_path, "s2", size=128)
    rgba = _rgba(render_image([record], _request(record, size=128)))
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


def _float_output(tmp_path: Path, name: str, collection: str, style: str | None, data):  # type: ignore[no-untyped-def]
    write_cog(
        tmp_path / f"{name}.tif", data, "EPSG:32633", from_origin(600000, 6580000, 20, 20), np.nan
    )
    base = make_s2_product(tmp_path, f"{name}-base", size=data.shape[-1])
    return replace(
        base,
        identifier=name,
        collection=collection,
        bands=[Band(name.replace("-", "_"))],
        file_path=str(tmp_path / f"{name}.tif"),
        dtype="float32",
        nodata=float("nan"),
        extra={} if style is None else {"style": style},
    )


def test_declared_probability_style_wins_over_the_collection_name(tmp_path: Path) -> None:
    # The s2cloudless probability output lives in "cloud-probability": the word "cloud"
    # must not turn a 0..1 float layer into the cloud class palette (one flat colour).
    ramp = np.tile(np.linspace(0, 1, 64, dtype="float32"), (1, 64, 1))
    ramp[0, :8, :] = np.nan  # outside the image: the output's nodata
    probability = _float_output(tmp_path, "cloud-prob", "cloud-probability", "probability", ramp)
    assert styles_for(probability)[0].name == "probability"
    rgba = _rgba(render_image([probability], _request(probability, size=64)))
    colours = {tuple(pixel) for pixel in rgba[32, 2:62]}
    assert len(colours) > 20  # a ramp, not one flat class colour
    assert tuple(rgba[32, 4]) != tuple(rgba[32, 60])
    assert (rgba[32, 2:62, 3] == 255).all()
    assert (rgba[:4, :, 3] == 0).all()  # NaN stays transparent
    Image.fromarray(rgba).save(tmp_path / "probability.png")


def test_declared_magnitude_style_wins_over_the_collection_name(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 4, 64, dtype="float32"), (1, 64, 1))
    magnitude = _float_output(tmp_path, "chg-mag", "change-magnitude", "magnitude", ramp)
    assert styles_for(magnitude)[0].name == "magnitude"
    rgba = _rgba(render_image([magnitude], _request(magnitude, size=64)))
    assert len({tuple(pixel) for pixel in rgba[32, 2:62]}) > 20


def test_a_float_layer_is_never_guessed_to_be_a_class_mask(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 1, 64, dtype="float32"), (1, 64, 1))
    undeclared = _float_output(tmp_path, "cloudy", "cloud-probability", None, ramp)
    assert styles_for(undeclared)[0].name != "cloud-classes"


def test_renderer_hands_mapproxy_tiff_and_refuses_other_formats(tmp_path: Path) -> None:
    record = make_s2_product(tmp_path, "s2", size=64)
    request = replace(_request(record, size=64), format="image/tiff")
    tiff = render_image([record], request)
    with rasterio.MemoryFile(tiff) as memory, memory.open() as image:
        assert (image.count, image.dtypes[0], image.compression) == (4, "uint8", None)
        assert (image.read(4) == 255).any() and (image.read(4) == 0).any()  # alpha kept
    params = {"crs": "EPSG:4326", "bbox": "1,2,3,4", "width": "8", "height": "8", "layers": "x"}
    with pytest.raises(InvalidParameterValue):
        parse_getmap({**params, "format": "image/gif"})


def test_a_replaced_product_file_is_read_afresh(tmp_path: Path) -> None:
    record = make_s2_product(tmp_path, "s2", size=64, seed=1)
    first = _rgba(render_image([record], _request(record, size=64)))
    assert (first[..., 3] == 255).any()
    # Re-ingest: a new file moved over the old path (as the writer does).
    other = make_s2_product(tmp_path / "new", "s2", size=64, seed=7)
    Path(other.file_path).replace(record.file_path)
    second = _rgba(render_image([record], _request(record, size=64)))
    assert not np.array_equal(first, second)


def test_a_tile_whose_cache_directory_was_removed_is_served_not_cached(  # type: ignore[no-untyped-def]
    tmp_path, monkeypatch
) -> None:
    """A product invalidated while a worker writes its tile: no 500, no stale tile."""
    import mapproxy.cache.file as file_cache
    import mapproxy.cache.path as cache_path
    from mapproxy.cache.tile import Tile
    from mapproxy.image import ImageResult
    from mapproxy.image.opts import ImageOptions
    from PIL import Image

    from ogcsdl.tiles.cache_store import tolerate_removed_cache_dirs

    tolerate_removed_cache_dirs()
    cache = file_cache.FileCache(str(tmp_path / "cache"), "png")
    image = Image.new("RGBA", (4, 4), (1, 2, 3, 255))

    def tile() -> Tile:
        return Tile((1, 2, 3), ImageResult(image, image_opts=ImageOptions(format="image/png")))

    def removed(*_args: object, **_kwargs: object) -> None:
        raise FileNotFoundError(2, "No such file or directory")  # the invalidation won the race

    with monkeypatch.context() as patch:  # removed between mkdir and the temp file
        patch.setattr(file_cache, "write_atomic", removed)
        assert cache.store_tile(tile()) is False
    with monkeypatch.context() as patch:  # removed while the tile's directories were made
        patch.setattr(cache_path, "ensure_directory", removed)
        assert cache.store_tile(tile()) is False
    assert not list((tmp_path / "cache").rglob("*.png"))
    assert cache.store_tile(tile()) is not False and list((tmp_path / "cache").rglob("*.png"))
