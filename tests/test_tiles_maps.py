"""The /maps app in process (werkzeug's test client, no renderer needed): the layer model
and what is derived from it (MapProxy's configuration, styles, TIME values), WMS 1.1.1
capabilities as OWSLib reads them, and requests refused with a 4xx OGC exception before
MapProxy would answer them with a 500."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from lxml import etree
from owslib.wms import WebMapService
from werkzeug.test import Client

from ogcsdl.catalogue.factory import product_store
from ogcsdl.config import Settings, load_settings
from ogcsdl.schema import create_schema
from ogcsdl.tiles.app import MapsApp
from ogcsdl.tiles.checks import check_wms_getmap
from ogcsdl.tiles.layers import LayerModel, canonical_time
from ogcsdl.tiles.mapproxy_config import build_config, cache_name, proxy_configuration
from tests.edge_support import behind_edge
from tests.view_fixtures import make_s1_product, make_s2_product

T1 = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
T2 = datetime(2024, 6, 11, 10, 0, 0, 400000, tzinfo=UTC)  # sub-second: TIME drops it
OWS = "{http://www.opengis.net/ows/1.1}"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    directory = tmp_path_factory.mktemp("maps")
    settings = load_settings(None, data_dir=str(directory))
    settings.ensure_dirs()
    create_schema(settings)
    store = product_store(settings)
    store.upsert(make_s2_product(directory / "src", "s2-a", start=T1, size=32))
    store.upsert(make_s2_product(directory / "src", "s2-b", start=T2, size=32, seed=3))
    store.upsert(make_s1_product(directory / "src", "s1-a", size=32))
    return settings


@pytest.fixture(scope="module")
def maps(settings: Settings) -> Iterator[Client]:
    yield Client(behind_edge(settings, "/maps"))


def test_one_model_gives_mapproxy_layers_styles_and_times(settings: Settings) -> None:
    model = LayerModel.from_records(product_store(settings).list())
    collection = model.get("sentinel-2-l2a")
    assert collection is not None
    assert collection.times == ("2024-06-01T10:00:00Z", "2024-06-11T10:00:00Z")
    assert [layer.style.name for layer in model.styles("sentinel-2-l2a")] == [
        "true-colour",
        "false-colour",
        "ndvi",
        "swir",
    ]
    ndvi = model.variant("s2-a", "ndvi")
    assert ndvi is not None and ndvi.name == "s2-a.ndvi" and ndvi.target == "s2-a"
    assert model.variant("s2-a", "vv") is None
    config = build_config(settings, model)
    layers = {layer["name"]: layer for layer in config["layers"]}
    assert set(layers) == {layer.name for layer in model.layers}
    assert layers["sentinel-2-l2a"]["dimensions"]["time"]["default"] == "2024-06-11T10:00:00Z"
    source = config["sources"]["sentinel-2-l2a.ndvi_source"]
    assert source["req"]["layers"] == "sentinel-2-l2a" and source["req"]["styles"] == "ndvi"
    assert config["services"]["wms"]["versions"] == ["1.1.1", "1.3.0"]
    assert "image/jpeg" in config["services"]["wms"]["image_formats"]
    assert model.products["s2-b"].time == "2024-06-11T10:00:00Z"
    # MapProxy is built from the dict: nothing is written for it to re-read.
    assert not (settings.generated_dir / "mapproxy.yaml").exists()


def test_time_has_one_canonical_form() -> None:
    assert canonical_time("2024-06-11T10:00:00.000Z") == "2024-06-11T10:00:00Z"
    assert canonical_time("2024-06-11T12:00:00+02:00") == "2024-06-11T10:00:00Z"
    assert canonical_time("2024-06-11") == "2024-06-11T00:00:00Z"


def test_wms_time_is_checked_and_made_canonical(settings: Settings) -> None:
    model = LayerModel.from_records(product_store(settings).list())
    params = {"layers": "sentinel-2-l2a", "time": "2024-06-11T12:00:00.5+02:00"}
    assert check_wms_getmap(params, model) == "2024-06-11T10:00:00Z"


@pytest.mark.parametrize("time_value", ["{Time}", "%7BTime%7D", "yesterday"])
def test_rest_tile_with_an_unfilled_or_bad_time_is_a_400(maps: Client, time_value: str) -> None:
    response = maps.get(f"/wmts/s2-a/default/GoogleMapsCompatible/{time_value}/13/4474/2324.png")
    assert response.status_code == 400
    report = etree.fromstring(response.data)
    exception = report.find(f"{OWS}Exception")
    assert exception is not None
    assert exception.get("exceptionCode") == "InvalidParameterValue"
    assert exception.get("locator") == "Time"


def test_rest_tile_time_not_offered_is_a_400(maps: Client) -> None:
    response = maps.get("/wmts/s2-a/default/GoogleMapsCompatible/2030-01-01T00:00:00Z/3/4/2.png")
    assert response.status_code == 400
    assert b"InvalidParameterValue" in response.data


def test_kvp_tile_with_unfilled_time_is_a_400(maps: Client) -> None:
    response = maps.get(
        "/service",
        query_string={
            "SERVICE": "WMTS",
            "REQUEST": "GetTile",
            "VERSION": "1.0.0",
            "LAYER": "s2-a",
            "STYLE": "default",
            "TILEMATRIXSET": "GoogleMapsCompatible",
            "TILEMATRIX": "3",
            "TILEROW": "2",
            "TILECOL": "4",
            "FORMAT": "image/png",
            "TIME": "{Time}",
        },
    )
    assert response.status_code == 400
    assert b'exceptionCode="InvalidParameterValue"' in response.data


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
@pytest.mark.parametrize("image_format", ["image/gif", "image/tiff", "text/html"])
def test_wms_unsupported_format_is_a_400(maps: Client, version: str, image_format: str) -> None:
    crs_key = "SRS" if version == "1.1.1" else "CRS"
    response = maps.get(
        "/service",
        query_string={
            "SERVICE": "WMS",
            "VERSION": version,
            "REQUEST": "GetMap",
            "LAYERS": "s2-a",
            "STYLES": "",
            crs_key: "EPSG:3857",
            "BBOX": "1865000,8245000,1875000,8255000",
            "WIDTH": "64",
            "HEIGHT": "64",
            "FORMAT": image_format,
        },
    )
    assert response.status_code == 400
    report = etree.fromstring(response.data)
    assert report.get("version") == version
    assert report.findtext(".//{*}ServiceException") is not None
    assert b'code="InvalidFormat"' in response.data


def test_wms_111_capabilities_as_owslib_reads_them(maps: Client) -> None:
    response = maps.get("/service?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetCapabilities")
    assert response.status_code == 200
    wms = WebMapService("http://test/maps/service", version="1.1.1", xml=response.data)
    assert wms.identification.version == "1.1.1"
    assert {"image/png", "image/jpeg"} <= set(wms.getOperationByName("GetMap").formatOptions)
    collection = wms.contents["sentinel-2-l2a"]
    assert collection.timepositions == ["2024-06-01T10:00:00Z", "2024-06-11T10:00:00Z"]
    assert collection.defaulttimeposition == "2024-06-11T10:00:00Z"
    assert {"default", "false-colour", "ndvi", "swir"} <= set(collection.styles)
    assert "EPSG:4326" in collection.crsOptions
    assert set(wms.contents["s1-a"].styles) == {"default", "vh", "vv-vh"}


def test_new_product_rebuilds_mapproxy_in_memory(settings: Settings, maps: Client) -> None:
    store = product_store(settings)
    record = make_s2_product(settings.data_dir / "src", "s2-new", start=T1, size=32, seed=9)
    store.upsert(replace(record, collection="fresh"))
    app = maps.application.app.app  # edge -> number checks -> the maps service
    assert isinstance(app, MapsApp)
    app.refresh(force=True)
    response = maps.get("/wmts/1.0.0/WMTSCapabilities.xml")
    assert b"<ows:Identifier>fresh</ows:Identifier>" in response.data
    assert app.model.times("s2-new") == ("2024-06-01T10:00:00Z",)


@pytest.mark.parametrize(
    "path",
    [
        "/service?service=WMTS&request=GetTile&version=1.0.0&layer={name}&style=default"
        "&tilematrixset=GLOBAL_WEBMERCATOR&tilematrix=3&tilerow=2&tilecol=4&format=image/png",
        "/service?service=WMS&request=GetMap&version=1.3.0&layers={name}&styles=&crs=EPSG:4326"
        "&bbox=50,0,51,1&width=8&height=8&format=image/png",
    ],
)
def test_a_layer_another_worker_already_lists_is_known_at_once(
    settings: Settings, maps: Client, path: str
) -> None:
    """Gateway workers check the store once a second: a client that read the new layer
    in one worker's capabilities may send its GetTile to another worker at once. A
    request naming a layer the worker does not know checks the store again first."""
    app = maps.application.app.app
    assert isinstance(app, MapsApp)
    maps.get("/wmts/1.0.0/WMTSCapabilities.xml")  # this worker has just checked the store
    name = f"late-{len(app.model.products)}"
    record = make_s2_product(settings.data_dir / "src", name, start=T1, size=32, seed=5)
    product_store(settings).upsert(record)  # listed by another worker's capabilities
    assert app.model.get(name) is None
    response = maps.get(path.format(name=name))
    assert b"unknown layer" not in response.data and b"not defined" not in response.data
    assert app.model.get(name) is not None


def test_a_tile_a_neighbour_stored_while_this_request_looked_is_served_not_blank(
    settings: Settings,
) -> None:
    """Two requests for tiles of one meta tile: the other one stores the meta tile's
    tiles between this request's cache lookup and its check for what is missing. The
    tile must come from the cache, not as MapProxy's blank tile (a hole in the map)."""
    import numpy as np
    from mapproxy.cache.tile import Tile
    from mapproxy.image import ImageResult
    from mapproxy.image.opts import ImageOptions
    from mapproxy.srs import SRS
    from PIL import Image

    model = LayerModel.from_records(product_store(settings).list())
    grid, _extent, manager = (
        proxy_configuration(settings, model).caches[cache_name("s2-a")].caches()[0]
    )
    west, south, east, north = product_store(settings).get("s2-a").bbox
    centre = SRS(4326).transform_to(grid.srs, ((west + east) / 2, (south + north) / 2))
    coord = grid.tile_coord_for_point(*centre, 12)  # inside the product's coverage
    neighbour = Image.new("RGBA", (256, 256), (10, 20, 30, 255))
    cache = manager.cache
    lookup = cache.load_tiles

    def lookup_then_the_neighbour_stores(
        tiles: Any, with_metadata: bool = False, dimensions: Any = None
    ) -> Any:
        found = lookup(tiles, with_metadata, dimensions=dimensions)
        for meta_coord in manager.meta_grid.meta_tile(coord).tiles:
            if meta_coord is not None and not cache.is_cached(Tile(meta_coord), dimensions):
                stored = ImageResult(neighbour, image_opts=ImageOptions(format="image/png"))
                cache.store_tile(Tile(meta_coord, stored), dimensions=dimensions)
        return found

    cache.load_tiles = lookup_then_the_neighbour_stores
    # No renderer runs here: a request to the source would fail, so the tile must be loaded.
    (tile,) = manager.load_tile_coords([coord]).tiles
    assert tile.image_result is not None, "MapProxy would answer with a blank tile"
    pixels = np.asarray(tile.image_result.as_image().convert("RGBA"))
    assert (pixels == (10, 20, 30, 255)).all()


def test_a_tile_removed_just_after_the_cache_lookup_found_it_is_still_served(
    settings: Settings,
) -> None:
    """A changed product's cached tiles are removed (``tiles/app.invalidate``, in another
    worker) just after this request's cache lookup found its tile. MapProxy kept only the
    file's name and read it later, so the response failed (WMTS 500, WMS 400 "Could not get
    any sources"); the tile found must be served."""
    import numpy as np
    from mapproxy.cache.tile import Tile
    from mapproxy.image import ImageResult
    from mapproxy.image.opts import ImageOptions
    from mapproxy.srs import SRS
    from PIL import Image

    model = LayerModel.from_records(product_store(settings).list())
    grid, _extent, manager = (
        proxy_configuration(settings, model).caches[cache_name("s2-a")].caches()[0]
    )
    west, south, east, north = product_store(settings).get("s2-a").bbox
    centre = SRS(4326).transform_to(grid.srs, ((west + east) / 2, (south + north) / 2))
    coord = grid.tile_coord_for_point(*centre, 13)
    cache = manager.cache
    image = Image.new("RGBA", (256, 256), (40, 50, 60, 255))
    cache.store_tile(Tile(coord, ImageResult(image, image_opts=ImageOptions(format="image/png"))))
    lookup = cache.load_tiles

    def lookup_then_the_product_changes(
        tiles: Any, with_metadata: bool = False, dimensions: Any = None
    ) -> Any:
        found = lookup(tiles, with_metadata, dimensions=dimensions)
        for tile in tiles:
            if tile.coord is not None:
                Path(cache.tile_location(tile, dimensions=dimensions)).unlink()
        return found

    cache.load_tiles = lookup_then_the_product_changes
    (tile,) = manager.load_tile_coords([coord]).tiles
    assert tile.image_result is not None
    pixels = np.asarray(tile.image_result.as_image().convert("RGBA"))  # read after the removal
    assert (pixels == (40, 50, 60, 255)).all()


WMS_GETMAP = {
    "SERVICE": "WMS",
    "VERSION": "1.3.0",
    "REQUEST": "GetMap",
    "LAYERS": "s2-a",
    "STYLES": "",
    "CRS": "EPSG:3857",
    "BBOX": "1865000,8245000,1875000,8255000",
    "WIDTH": "64",
    "HEIGHT": "64",
    "FORMAT": "image/png",
}


@pytest.mark.parametrize(
    ("changed", "locator"),
    [
        ({"WIDTH": ""}, "WIDTH"),
        ({"BBOX": "-1e308,-1e308,1e308,1e308"}, "BBOX"),  # finite corners, infinite width
        ({"BGCOLOR": "zzz"}, "BGCOLOR"),
        ({"BGCOLOR": "0xGGGGGG"}, "BGCOLOR"),
    ],
    ids=["empty-width", "overflowing-bbox", "bgcolor-word", "bgcolor-not-hex"],
)
def test_wms_values_mapproxy_failed_on_are_400(
    maps: Client, changed: dict[str, str], locator: str
) -> None:
    """Each was a 500 from inside MapProxy (int(''), NaN pixel offsets, PIL's colour
    parser); now refused before MapProxy, naming the parameter."""
    response = maps.get("/service", query_string={**WMS_GETMAP, **changed})
    assert response.status_code == 400, response.get_data(as_text=True)
    exception = etree.fromstring(response.data).find(".//{*}ServiceException")
    assert exception is not None and exception.get("locator") == locator


@pytest.mark.parametrize(
    "query",
    [
        "bbox=nan,nan,nan,nan",
        "bbox=-1e308,-1e308,1e308,1e308",
        "bbox=nan,1,2,nan,3,4",
        "crs=EPSG:99999",
        "crs=http://www.opengis.net/def/crs/EPSG/0/99999",
        "bbox=16,59,17,60&bbox-crs=EPSG:99999",
        "center=nan,nan",
        "center=1,2&center-crs=EPSG:99999",
        "subset=Lat(nan:1)&subset=Lon(1:2)",
        "subset=Lat(59:60),Lon(-1e308:1e308)",
        "subset=Lat(59:60),Lon(16:17)&subset-crs=EPSG:99999",
    ],
)
def test_ogcapi_map_values_mapproxy_failed_on_are_400(maps: Client, query: str) -> None:
    response = maps.get(f"/ogcapi/collections/s2-a/map?{query}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("path", ["/ogcapi/map", "/ogcapi/map.png", "/ogcapi/map/tiles"])
def test_ogcapi_dataset_map_is_not_offered(maps: Client, path: str) -> None:
    response = maps.get(f"{path}?bbox=16,59,17,60")
    assert response.status_code == 404, response.get_data(as_text=True)
    assert "default_dataset_layers" not in response.get_data(as_text=True)


def test_undeclared_dimensions_never_reach_mapproxy(settings: Settings) -> None:
    """MapProxy kept a cache directory per ELEVATION / DIM_* value (one request, one new
    tree of tiles: a disk filled from outside) and answered a value with a slash with a
    500. WMS 1.3.0 ignores dimensions a layer does not declare: so do we."""
    app = MapsApp(settings)
    query = {
        **WMS_GETMAP,
        "ELEVATION": "e1",
        "dim_band": "x/../../y",
        "DIM_Q": "r4nd0m",
        "TIME": "2024-06-01T10:00:00Z",
    }
    environ = {"PATH_INFO": "/service", "QUERY_STRING": urlencode(query)}
    app.check(environ, app.model, app.mapproxy)
    kept = dict(parse_qsl(environ["QUERY_STRING"]))
    assert not {"ELEVATION", "dim_band", "DIM_Q"} & set(kept)
    assert kept["TIME"] == "2024-06-01T10:00:00Z" and kept["LAYERS"] == "s2-a"


def test_a_dimension_with_a_slash_is_not_a_500(maps: Client) -> None:
    response = maps.get("/service", query_string={**WMS_GETMAP, "DIM_Q": "a/../../b"})
    assert response.status_code != 500, response.get_data(as_text=True)


def test_layers_carry_their_native_resolution(settings: Settings) -> None:
    """MapProxy needs a layer's nominal resolution to place an OGC API map of a given
    size without a bbox (``/ogcapi/collections/{id}/map?width=64&height=64``); without
    it every such request was a 500 naming the missing setting. (In-process there is no
    renderer to draw it: the hostile corpus asks the live suite.)"""
    model = LayerModel.from_records(product_store(settings).list())
    config = build_config(settings, model)
    by_name = {layer.name: layer for layer in model.layers}
    for entry in config["layers"]:
        assert entry["nominal_res"] == by_name[entry["name"]].finest_m * 2 > 0


def test_a_layer_smaller_than_a_pixel_of_an_ogcapi_map_is_one_pixel() -> None:
    """MapProxy clipped a 2 x 2 map of a wide box to the product's 0 x 0 pixels and
    divided by zero (a 500); the clip is now at least one pixel."""
    from mapproxy.service.ogcapi import map as ogcapi_map

    product = (16.758, 59.341, 16.770, 59.347)
    size, offset, bbox = ogcapi_map.bbox_position_in_image((10, 55, 25, 65), (2, 2), product)
    assert size == (1, 1) and bbox == product
    assert all(0 <= value <= 2 for value in offset)


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_featureinfo_on_a_layer_that_is_not_queryable_is_layer_not_queryable(
    maps: Client, version: str
) -> None:
    """WMS 1.3.0 (Table E.1) and 1.1.1 (Annex A) name this LayerNotQueryable; MapProxy
    answered it without a code, which the edge made InvalidParameterValue."""
    crs_key, i_key, j_key = ("SRS", "X", "Y") if version == "1.1.1" else ("CRS", "I", "J")
    query = {
        **WMS_GETMAP,
        "VERSION": version,
        "REQUEST": "GetFeatureInfo",
        "QUERY_LAYERS": "s2-a",
        "INFO_FORMAT": "text/plain",
        i_key: "3",
        j_key: "4",
    }
    query[crs_key] = query.pop("CRS", query.pop("SRS", "EPSG:3857"))
    response = maps.get("/service", query_string=query)
    assert response.status_code == 400, response.get_data(as_text=True)
    report = etree.fromstring(response.data)
    assert report.get("version") == version
    exception = report.find(".//{*}ServiceException")
    assert exception is not None
    assert exception.get("code") == "LayerNotQueryable"
    assert exception.get("locator") == "s2-a"


def test_featureinfo_on_an_unknown_query_layer_is_layer_not_defined(maps: Client) -> None:
    """MapProxy checks LAYERS only; an unknown QUERY_LAYERS name was a KeyError (500)."""
    query = {**WMS_GETMAP, "REQUEST": "GetFeatureInfo", "QUERY_LAYERS": "nope", "I": "1", "J": "1"}
    response = maps.get("/service", query_string={**query, "INFO_FORMAT": "text/plain"})
    assert response.status_code == 400, response.get_data(as_text=True)
    exception = etree.fromstring(response.data).find(".//{*}ServiceException")
    assert exception is not None
    assert (exception.get("code"), exception.get("locator")) == ("LayerNotDefined", "nope")
