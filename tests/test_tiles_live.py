"""Maps and tiles (MapProxy over our rio-tiler renderer) against real clients: OWSLib
WMTS/WMS, GDAL's WMTS driver, plus the WMTS GetTile conformance matrix, live layer
updates, cache invalidation and seeding."""

from __future__ import annotations

import io
import math
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
from owslib.wms import WebMapService
from owslib.wmts import WebMapTileService
from PIL import Image

from conformance.wcs import validate_xml
from conformance.wmts import WMTS_CHECKS
from ogcsdl.catalogue.factory import product_store
from tests.cli_support import run_cli
from tests.view_fixtures import ViewServices, make_s1_product, make_s2_product, start_view_services

pytestmark = pytest.mark.live
T1 = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
T2 = datetime(2024, 6, 11, 10, 0, tzinfo=UTC)


def _mercator_tile(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    n = 2**zoom
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


# The web-mercator tile holding the test products' centre (16.80E 59.32N) at zoom 13.
Z = 13
X, Y = _mercator_tile(16.80, 59.32, Z)


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewServices]:
    directory = tmp_path_factory.mktemp("tiles")
    records = [
        make_s2_product(directory / "src", "s2-early", start=T1, seed=0),
        make_s2_product(directory / "src", "s2-late", start=T2, seed=5, offset=(-2000, 0)),
        make_s1_product(directory / "src", "s1-one"),
    ]
    services = start_view_services(directory, records)
    yield services
    services.close()


def _rgba(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGBA"))


def _tile(
    view: ViewServices,
    layer: str,
    time_value: str = "default",
    grid: str = "GoogleMapsCompatible",
    z: int = Z,
    x: int = X,
    y: int = Y,
) -> requests.Response:
    url = f"{view.base_url}/maps/wmts/{layer}/default/{grid}/{time_value}/{z}/{x}/{y}.png"
    return requests.get(url, timeout=60)


@pytest.mark.parametrize("check", WMTS_CHECKS, ids=lambda check: check.__name__)
def test_wmts_gettile_error_matrix(view: ViewServices, check) -> None:  # type: ignore[no-untyped-def]
    passed, reason = check(f"{view.base_url}/maps/service", requests.Session())
    assert passed, reason


def test_wmts_capabilities_layers_styles_time_and_grids(view: ViewServices) -> None:
    wmts = WebMapTileService(f"{view.base_url}/maps/wmts/1.0.0/WMTSCapabilities.xml")
    layers = set(wmts.contents)
    for name in (
        "sentinel-2-l2a",
        "sentinel-2-l2a.false-colour",
        "sentinel-2-l2a.ndvi",
        "sentinel-2-l2a.swir",
        "sentinel-1-grd",
        "sentinel-1-grd.vh",
        "sentinel-1-grd.vv-vh",
        "s2-early",
        "s2-late.ndvi",
        "s1-one",
    ):
        assert name in layers
    assert {"GoogleMapsCompatible", "WorldCRS84Quad", "SWEREF99TM"} <= set(wmts.tilematrixsets)
    caps = requests.get(
        f"{view.base_url}/maps/service",
        params={"SERVICE": "WMTS", "REQUEST": "GetCapabilities"},
        timeout=60,
    )
    assert caps.status_code == 200
    text = caps.text
    assert "<Value>2024-06-01T10:00:00Z</Value>" in text
    assert "<Default>2024-06-11T10:00:00Z</Default>" in text  # latest acquisition
    valid, reason = validate_xml(
        caps.content, "http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd"
    )
    assert valid, reason


def test_owslib_wmts_gettile_has_data_and_transparent_nodata(view: ViewServices) -> None:
    wmts = WebMapTileService(f"{view.base_url}/maps/wmts/1.0.0/WMTSCapabilities.xml")
    x, y = _mercator_tile(16.80, 59.32, 11)  # a tile four times the product's size
    response = wmts.gettile(
        layer="s2-early",
        tilematrixset="GoogleMapsCompatible",
        tilematrix="11",
        row=y,
        column=x,
        format="image/png",
        Time="2024-06-01T10:00:00Z",
    )
    rgba = _rgba(response.read())
    assert (rgba[..., 3] == 255).sum() > 1000  # product pixels are opaque
    assert (rgba[..., 3] == 0).sum() > 1000  # outside the footprint / nodata: transparent


def test_time_dimension_selects_the_acquisition(view: ViewServices) -> None:
    early = _rgba(_tile(view, "sentinel-2-l2a", "2024-06-01T10:00:00Z").content)
    late = _rgba(_tile(view, "sentinel-2-l2a", "2024-06-11T10:00:00Z").content)
    default = _rgba(_tile(view, "sentinel-2-l2a").content)
    assert not np.array_equal(early, late)
    assert np.array_equal(default, late)
    bad = _tile(view, "sentinel-2-l2a", "1999-01-01T00:00:00Z")
    assert bad.status_code == 400 and b"InvalidParameterValue" in bad.content


def test_owslib_wms_getmap_with_time_and_styles(view: ViewServices) -> None:
    wms = WebMapService(f"{view.base_url}/maps/service", version="1.3.0")
    assert "sentinel-2-l2a" in wms.contents and "sentinel-2-l2a.ndvi" in wms.contents
    west, south, east, north = product_store(view.settings).get("s2-early").bbox
    images = {}
    for time_value in ("2024-06-01T10:00:00Z", "2024-06-11T10:00:00Z"):
        response = wms.getmap(
            layers=["sentinel-2-l2a"],
            styles=[""],
            srs="EPSG:4326",
            bbox=(west, south, east, north),
            size=(256, 256),
            format="image/png",
            transparent=True,
            time=time_value,
        )
        images[time_value] = _rgba(response.read())
        assert (images[time_value][..., 3] == 255).sum() > 5000
    assert not np.array_equal(*images.values())


def test_wms_crs84_equals_epsg4326_with_swapped_axes(view: ViewServices) -> None:
    west, south, east, north = product_store(view.settings).get("s2-early").bbox
    common = {
        "SERVICE": "WMS",
        "VERSION": "1.3.0",
        "REQUEST": "GetMap",
        "LAYERS": "s2-early",
        "STYLES": "",
        "WIDTH": "128",
        "HEIGHT": "128",
        "FORMAT": "image/png",
        "TRANSPARENT": "TRUE",
    }
    url = f"{view.base_url}/maps/service"
    lon_lat = requests.get(
        url,
        params={**common, "CRS": "CRS:84", "BBOX": f"{west},{south},{east},{north}"},
        timeout=30,
    )
    lat_lon = requests.get(
        url,
        params={**common, "CRS": "EPSG:4326", "BBOX": f"{south},{west},{north},{east}"},
        timeout=30,
    )
    assert lon_lat.status_code == 200, lon_lat.text
    assert lon_lat.headers["Content-Type"] == "image/png"
    image = _rgba(lon_lat.content)
    assert (image[..., 3] == 255).sum() > 5000
    assert np.array_equal(image, _rgba(lat_lon.content))


def test_owslib_wms_111_jpeg_with_time_and_style(view: ViewServices) -> None:
    wms = WebMapService(f"{view.base_url}/maps/service", version="1.1.1")
    assert wms.identification.version == "1.1.1"
    layer = wms.contents["sentinel-2-l2a"]
    assert layer.timepositions == ["2024-06-01T10:00:00Z", "2024-06-11T10:00:00Z"]
    west, south, east, north = product_store(view.settings).get("s2-early").bbox
    images = {}
    for style in ("", "ndvi"):
        response = wms.getmap(
            layers=["sentinel-2-l2a"],
            styles=[style],
            srs="EPSG:4326",
            bbox=(west, south, east, north),  # 1.1.1: always lon/lat
            size=(256, 256),
            format="image/jpeg",
            time="2024-06-01T10:00:00Z",
        )
        content = response.read()
        assert content[:3] == b"\xff\xd8\xff", content[:200]  # a JPEG, not an exception
        images[style] = np.asarray(Image.open(io.BytesIO(content)).convert("RGB"))
        assert images[style].std() > 5  # the product, not a flat fill
    assert not np.array_equal(images[""], images["ndvi"])


def _gdal_area(
    source: str, bbox: tuple[float, ...], size: int, out: Path, env: dict[str, str]
) -> np.ndarray:
    """``gdal_translate`` of a WGS84 box of ``source`` to ``size`` px; the pixels read back."""
    west, south, east, north = bbox
    window = [str(west), str(north), str(east), str(south)]
    subprocess.run(
        ["gdal_translate", "-q", "-projwin_srs", "EPSG:4326", "-projwin", *window]
        + ["-outsize", str(size), str(size), source, str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    with rasterio.open(out) as dataset:
        return dataset.read()


def test_gdal_wms_driver_reads_jpeg(view: ViewServices, tmp_path: Path) -> None:
    url = f"{view.base_url}/maps/service?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetCapabilities"
    env = {**os.environ, "GDAL_DEFAULT_WMS_CACHE_PATH": str(tmp_path / "gdalcache")}
    listing = subprocess.run(
        ["gdalinfo", f"WMS:{url}"], capture_output=True, text=True, env=env, check=True
    ).stdout
    subdataset = next(
        line.split("=", 1)[1]
        for line in listing.splitlines()
        if "_NAME=" in line and "LAYERS=s2-early&" in line
    )
    # GDAL's WMS driver asks for image/jpeg unless told otherwise (its debug log shows it).
    opened = subprocess.run(
        ["gdalinfo", "--debug", "on", subdataset], capture_output=True, text=True, env=env
    )
    assert "<ImageFormat>image/jpeg</ImageFormat>" in opened.stderr
    bbox = product_store(view.settings).get("s2-early").bbox
    data = _gdal_area(subdataset, bbox, 128, tmp_path / "wms.tif", env)
    assert data.shape[0] == 3, subdataset  # JPEG: no alpha band
    assert data.std() > 5, subdataset


@pytest.mark.parametrize(
    ("grid", "crs_name"),
    [
        ("GoogleMapsCompatible", "Pseudo-Mercator"),
        ("WorldCRS84Quad", "WGS 84"),
        ("SWEREF99TM", "SWEREF99 TM"),
    ],
)
def test_gdal_wmts_info_and_translate(
    view: ViewServices, tmp_path: Path, grid: str, crs_name: str
) -> None:
    source = (
        f"WMTS:{view.base_url}/maps/wmts/1.0.0/WMTSCapabilities.xml,"
        f"layer=s2-early,tilematrixset={grid}"
    )
    env = {**os.environ, "GDAL_DEFAULT_WMS_CACHE_PATH": str(tmp_path / "gdalcache")}
    info = subprocess.run(
        ["gdalinfo", source], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert crs_name in info and "Band 4" in info
    bbox = product_store(view.settings).get("s2-early").bbox
    data = _gdal_area(source, bbox, 256, tmp_path / "area.tif", env)
    assert data.shape == (4, 256, 256)
    # The box's bounding rectangle holds the product with a nodata border: 0.89 opaque on
    # every grid. One blank tile (a hole) costs at least 0.06 of it.
    assert (data[3] == 255).mean() > 0.85 and data[:3].max() > 0


def test_tms_and_ogcapi_list_layers(view: ViewServices) -> None:
    tms = requests.get(f"{view.base_url}/maps/tms/1.0.0/", timeout=60)
    assert tms.status_code == 200 and "sentinel-2-l2a/GoogleMapsCompatible" in tms.text
    collections = requests.get(f"{view.base_url}/maps/ogcapi/collections?f=json", timeout=60)
    assert collections.status_code == 200
    ids = {c["id"] for c in collections.json()["collections"]}
    assert {"sentinel-2-l2a", "s2-early"} <= ids


def test_new_product_appears_and_reingest_invalidates_its_tiles(view: ViewServices) -> None:
    store = product_store(view.settings)
    record = make_s2_product(view.settings.cog_dir, "s2-fresh", start=T1, seed=11)
    store.upsert(record)
    time.sleep(1.1)  # the /maps app re-reads the store at most once a second
    first = _tile(view, "s2-fresh")
    assert first.status_code == 200
    cache_root = view.settings.cache_dir / "mapproxy"
    assert any(cache_root.glob("s2-fresh_cache_*/time-*/**/*.png"))
    # Re-ingest with different pixels: the cached tile must not be served again.
    replaced = make_s2_product(view.settings.cog_dir, "s2-fresh", start=T1, seed=12)
    store.upsert(replaced)
    time.sleep(1.1)
    second = _tile(view, "s2-fresh")
    assert not np.array_equal(_rgba(first.content), _rgba(second.content))
    store.delete("s2-fresh")
    time.sleep(1.1)
    assert _tile(view, "s2-fresh").status_code == 400  # the request syncs the store first
    assert not any(cache_root.glob("s2-fresh_cache_*"))


def test_seed_fills_the_cache_for_the_time_slice(view: ViewServices) -> None:
    from mapproxy.seed.seeder import seed
    from mapproxy.seed.util import ProgressLog

    from ogcsdl.tiles.seed import seed_tasks

    tasks = seed_tasks(view.settings, "s1-one", 11)
    assert len(tasks) == 3  # one per grid
    seed(tasks, concurrency=1, progress_logger=ProgressLog(out=io.StringIO(), verbose=False))
    tiles = list(
        (view.settings.cache_dir / "mapproxy").glob(
            "s1-one_cache_EPSG3857/time-2024-06-02T05:30:00Z/11/**/*.png"
        )
    )
    assert tiles


def test_wms_time_not_offered_is_invalid_dimension_value(view: ViewServices) -> None:
    west, south, east, north = product_store(view.settings).get("s2-early").bbox
    params = {
        "SERVICE": "WMS",
        "VERSION": "1.3.0",
        "REQUEST": "GetMap",
        "LAYERS": "sentinel-2-l2a",
        "STYLES": "",
        "CRS": "EPSG:4326",
        "BBOX": f"{south},{west},{north},{east}",
        "WIDTH": "64",
        "HEIGHT": "64",
        "FORMAT": "image/png",
        "TIME": "1999-01-01T00:00:00Z",
    }
    response = requests.get(f"{view.base_url}/maps/service", params=params, timeout=60)
    assert response.status_code == 400
    assert b'code="InvalidDimensionValue"' in response.content


def test_ogcapi_map_renders_the_product(view: ViewServices) -> None:
    west, south, east, north = product_store(view.settings).get("s2-early").bbox
    response = requests.get(
        f"{view.base_url}/maps/ogcapi/collections/s2-early/map",
        params={"f": "png", "bbox": f"{west},{south},{east},{north}", "width": 128, "height": 128},
        timeout=60,
    )
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    assert (_rgba(response.content)[..., 3] == 255).sum() > 5000


def test_reingest_drops_the_collection_time_slice(view: ViewServices) -> None:
    store = product_store(view.settings)
    early, late = "2024-06-01T10:00:00Z", "2024-06-11T10:00:00Z"
    assert _tile(view, "sentinel-2-l2a", early).status_code == 200
    assert _tile(view, "sentinel-2-l2a", late).status_code == 200
    grid_dir = view.settings.cache_dir / "mapproxy" / "sentinel-2-l2a_cache_EPSG3857"
    assert (grid_dir / f"time-{early}").is_dir() and (grid_dir / f"time-{late}").is_dir()
    store.upsert(make_s2_product(view.settings.cog_dir / "re", "s2-early", start=T1, seed=0))
    time.sleep(1.1)
    _tile(view, "sentinel-1-grd")  # any request syncs the store
    assert not (grid_dir / f"time-{early}").exists()  # the re-ingested product's slice
    assert (grid_dir / f"time-{late}").is_dir()  # the other acquisition keeps its tiles


def test_seed_command_line(view: ViewServices, tmp_path: Path) -> None:
    config = tmp_path / "ogcsdl.yml"
    config.write_text(
        f"data_dir: {view.settings.data_dir}\npublic_url: {view.settings.public_url}\n"
        f"render:\n  port: {view.settings.render.port}\n"
    )
    seed = ("--config", str(config), "seed")
    completed = run_cli(*seed, "--layer", "s2-late.swir", "--levels", "10", "--concurrency", "1")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "seeding done" in completed.stdout and "100.00%" in completed.stdout
    assert any(
        (view.settings.cache_dir / "mapproxy").glob("s2-late.swir_cache_EPSG3006/time-*/**/*.png")
    )
    unknown = run_cli(*seed, "--layer", "nope")
    assert unknown.returncode != 0 and "no layer 'nope'" in (unknown.stderr + unknown.stdout)
    config.write_text(f"data_dir: {view.settings.data_dir}\nrender:\n  port: 9\n")
    down = run_cli(*seed)
    assert down.returncode != 0 and "start the suite first" in down.stderr


def test_styles_are_listed_and_served_in_wmts_and_wms(view: ViewServices) -> None:
    wmts = WebMapTileService(f"{view.base_url}/maps/wmts/1.0.0/WMTSCapabilities.xml")
    styles = set(wmts.contents["sentinel-2-l2a"].styles)
    assert {"default", "false-colour", "ndvi", "swir"} <= styles
    assert {"default", "vh", "vv-vh"} <= set(wmts.contents["sentinel-1-grd"].styles)
    stamp = "2024-06-11T10:00:00Z"
    styled = wmts.gettile(
        layer="sentinel-2-l2a",
        style="ndvi",
        tilematrixset="GoogleMapsCompatible",
        tilematrix=str(Z),
        row=Y,
        column=X,
        format="image/png",
        Time=stamp,
    )
    variant = _tile(view, "sentinel-2-l2a.ndvi", stamp)
    plain = _tile(view, "sentinel-2-l2a", stamp)
    assert np.array_equal(_rgba(styled.read()), _rgba(variant.content))
    assert not np.array_equal(_rgba(variant.content), _rgba(plain.content))
    kvp = requests.get(
        f"{view.base_url}/maps/service",
        params={
            "SERVICE": "WMTS",
            "REQUEST": "GetTile",
            "VERSION": "1.0.0",
            "LAYER": "sentinel-2-l2a",
            "STYLE": "ndvi",
            "FORMAT": "image/png",
            "TILEMATRIXSET": "GoogleMapsCompatible",
            "TILEMATRIX": str(Z),
            "TILEROW": str(Y),
            "TILECOL": str(X),
            "TIME": stamp,
        },
        timeout=60,
    )
    assert np.array_equal(_rgba(kvp.content), _rgba(variant.content))

    wms = WebMapService(f"{view.base_url}/maps/service", version="1.3.0")
    assert {"default", "ndvi", "false-colour", "swir"} <= set(wms["sentinel-2-l2a"].styles)
    west, south, east, north = product_store(view.settings).get("s2-late").bbox
    args = {
        "srs": "EPSG:4326",
        "bbox": (west, south, east, north),
        "size": (64, 64),
        "format": "image/png",
        "transparent": True,
        "time": stamp,
    }
    styled_map = wms.getmap(layers=["sentinel-2-l2a"], styles=["ndvi"], **args).read()
    variant_map = wms.getmap(layers=["sentinel-2-l2a.ndvi"], styles=[""], **args).read()
    assert np.array_equal(_rgba(styled_map), _rgba(variant_map))
    unknown = requests.get(
        f"{view.base_url}/maps/service",
        params={
            "SERVICE": "WMS",
            "VERSION": "1.3.0",
            "REQUEST": "GetMap",
            "LAYERS": "sentinel-2-l2a",
            "STYLES": "sepia",
            "CRS": "EPSG:4326",
            "BBOX": f"{south},{west},{north},{east}",
            "WIDTH": "8",
            "HEIGHT": "8",
            "FORMAT": "image/png",
        },
        timeout=60,
    )
    assert b"StyleNotDefined" in unknown.content


def test_checks_run_through_the_suite_runner(view: ViewServices) -> None:
    from conformance import runner

    saved = list(runner.CHECK_MODULES)
    runner.CHECK_MODULES[:] = ["conformance.wmts", "conformance.wcs"]  # the runner's default
    try:
        outcomes = runner.run_checks(view.base_url)
    finally:
        runner.CHECK_MODULES[:] = saved
    table = runner.format_table(outcomes)
    assert len(outcomes) == 21, table
    assert all(outcome.result.status == "pass" for outcome in outcomes), table
