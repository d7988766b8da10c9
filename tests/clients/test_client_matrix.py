"""The client matrix: every real client people use, driven against the whole running suite
(gateway, pycsw, renderer, Dask), one cell per (client, operation). The test prints the
matrix and fails on any cell that is neither a pass nor a documented client limit.

Client limits are listed in ``LIMITS`` with the client version; they are shown as
"limit", never counted as passes."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
from PIL import Image

from ogcsdl.catalogue.factory import product_store
from tests.live import LiveSuite
from tests.view_fixtures import make_s1_product, make_s2_product

pytestmark = pytest.mark.live
T_A = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
T_B = datetime(2024, 6, 6, 10, 0, tzinfo=UTC)
S2_A, S2_B, S1 = "matrix-s2-a", "matrix-s2-b", "matrix-s1"
QGIS_PYTHON = "/usr/bin/python3"

# Known limits of the clients themselves (not of this suite), with the version seen.
LIMITS = {
    ("GDAL", "OGCAPI coverage"): "GDAL 3.6 OGCAPI driver speaks a pre-1.0 Coverages draft "
    "(/coverage/domainset, /rangetype; EPSG:4326 grids only); GDAL reads our typed GeoTIFF link",
    ("birdy", "bbox input"): "birdy 0.10.0 fills a BoundingBoxData input with its CRS string and "
    "cannot encode it; pass None",
    ("birdy", "boolean output"): "birdy 0.10.0 converts literal booleans with bool(text): "
    "'false' -> True",
}


@dataclasses.dataclass
class Matrix:
    suite: LiveSuite
    tmp: Path
    results: dict[tuple[str, str], tuple[str, str]] = dataclasses.field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.suite.url(path)

    def run(self, client: str, operation: str, cell: Callable[[Matrix], str] | None) -> None:
        if cell is None:
            self.results[(client, operation)] = ("limit", LIMITS[(client, operation)])
            return
        try:
            note = cell(self) or ""
            self.results[(client, operation)] = ("pass", note)
        except Exception as error:  # noqa: BLE001 - every failure is one cell of the table
            self.results[(client, operation)] = ("FAIL", f"{type(error).__name__}: {error}"[:300])

    def table(self) -> str:
        rows = [f"{'client':<16}{'operation':<28}{'result':<8}note"]
        for (client, operation), (result, note) in self.results.items():
            rows.append(f"{client:<16}{operation:<28}{result:<8}{note[:110]}")
        return "\n".join(rows)


def _env(matrix: Matrix, user: str = "gdal") -> dict[str, str]:
    """A client process's environment, with the home of the `user` running it.

    The QGIS cells run beside the others (see test_client_matrix), so QGIS is a second user
    with a home of its own. GDAL keeps client caches under $HOME, and its WCS cache is not
    safe for two processes at once: it lists a capabilities file in its index before it
    writes it, and a second process that opens the same coverage meanwhile reads the empty
    file and fails ("No such file or directory"). Two gdalinfo runs sharing a home failed 28
    reads in 60 against `make demo`; with a home each, 0 in 60.
    """
    home = matrix.tmp / "home" / user
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(
        {
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(home),
            "QT_QPA_PLATFORM": "offscreen",
            "GDAL_HTTP_TIMEOUT": "60",
        }
    )
    return env


def _gdal(matrix: Matrix, *args: str) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, env=_env(matrix), timeout=180)
    assert done.returncode == 0, done.stderr[-400:]
    return done.stdout


# --- GDAL ----------------------------------------------------------------------------------
def gdal_wmts(m: Matrix) -> str:
    caps = m.url("/maps/wmts/1.0.0/WMTSCapabilities.xml")
    out = _gdal(m, "gdalinfo", f"WMTS:{caps},layer={S2_A},tilematrixset=GoogleMapsCompatible")
    assert "Size is" in out
    return "gdalinfo WMTS:"


def gdal_wms(m: Matrix) -> str:
    target = m.tmp / "wms.tif"
    # No FORMAT: GDAL's WMS driver asks for image/jpeg by default.
    url = (
        f"WMS:{m.url('/maps/service')}?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS={S2_A}"
        "&SRS=EPSG:4326&BBOX=16.70,59.28,16.90,59.40"
    )
    _gdal(m, "gdal_translate", "-outsize", "128", "128", url, str(target))
    with rasterio.open(target) as image:
        assert image.read(1).std() > 0
    return "WMS 1.1.1, JPEG"


def gdal_wcs(m: Matrix) -> str:
    out = _gdal(m, "gdalinfo", f"WCS:{m.url('/wcs')}?version=2.0.1&coverage={S2_A}")
    assert "Band 6" in out
    return "WCS 2.0.1"


def gdal_wcs_series(m: Matrix) -> str:
    described = requests.get(
        m.url("/wcs"),
        params={
            "SERVICE": "WCS",
            "VERSION": "2.0.1",
            "REQUEST": "DescribeEOCoverageSet",
            "EOID": "sentinel-2-l2a",
            "SUBSET": 'phenomenonTime("2024-06-05T00:00:00Z","2024-06-07T00:00:00Z")',
        },
        timeout=60,
    )
    assert described.status_code == 200 and S2_B.encode() in described.content
    out = _gdal(m, "gdalinfo", f"WCS:{m.url('/wcs')}?version=2.0.1&coverage={S2_B}")
    assert "Size is" in out
    return "EO-WCS dataset series member"


def gdal_csw(m: Matrix) -> str:
    out = _gdal(m, "ogrinfo", "-ro", "-al", "-so", f"CSW:{m.url('/csw')}")
    assert "Feature Count" in out
    return "ogrinfo CSW:"


def gdal_oapif_on_stac(m: Matrix) -> str:
    out = _gdal(m, "ogrinfo", "-ro", "-so", f"OAPIF:{m.url('/stac')}", "sentinel-2-l2a")
    assert "Feature Count" in out or "Geometry" in out
    return "STAC API as OGC API - Features"


def gdal_stacit(m: Matrix) -> str:
    search = m.url(f"/stac/search?collections=sentinel-2-l2a&ids={S2_A}")
    out = _gdal(m, "gdalinfo", f'STACIT:"{search}"')
    assert "Size is" in out
    return "STACIT"


def gdal_vsicurl(m: Matrix) -> str:
    out = _gdal(m, "gdalinfo", f"/vsicurl/{m.url(f'/data/{S2_A}.tif')}")
    assert "Band 6" in out, out[-600:]
    return "/vsicurl/ COG with range requests"


# --- OWSLib --------------------------------------------------------------------------------
def owslib_csw202(m: Matrix) -> str:
    from owslib.csw import CatalogueServiceWeb
    from owslib.fes import BBox

    csw = CatalogueServiceWeb(m.url("/csw"))
    csw.getrecords2(constraints=[BBox([59.28, 16.70, 59.40, 16.90])], maxrecords=20)
    assert S2_A in csw.records
    return f"{len(csw.records)} records in a BBOX"


def owslib_csw30(m: Matrix) -> str:
    from owslib.catalogue.csw3 import CatalogueServiceWeb

    csw = CatalogueServiceWeb(m.url("/csw"))
    csw.getrecords(maxrecords=50)
    assert S2_A in csw.records, list(csw.records)
    return f"CSW 3.0 GetRecords, {csw.results['matches']} matches"


def owslib_wmts(m: Matrix) -> str:
    from owslib.wmts import WebMapTileService

    wmts = WebMapTileService(m.url("/maps/wmts/1.0.0/WMTSCapabilities.xml"))
    tile = wmts.gettile(
        layer=S2_A,
        tilematrixset="GoogleMapsCompatible",
        tilematrix="11",
        row=602,
        column=1119,
        Time="2024-06-01T10:00:00Z",  # OWSLib fills REST templates from kwargs only
    )
    alpha = np.asarray(Image.open(io.BytesIO(tile.read())).convert("RGBA"))[..., 3]
    assert (alpha == 255).sum() > 100
    return "GetTile z11"


def owslib_wms(version: str) -> Callable[[Matrix], str]:
    def cell(m: Matrix) -> str:
        from owslib.wms import WebMapService

        wms = WebMapService(m.url("/maps/service"), version=version)
        assert "sentinel-2-l2a" in wms.contents
        srs = "EPSG:4326" if version == "1.1.1" else "CRS:84"
        image = wms.getmap(
            layers=["sentinel-2-l2a"],
            srs=srs,
            bbox=(16.70, 59.28, 16.90, 59.40),
            size=(128, 128),
            format="image/png",
            time="2024-06-06T10:00:00Z",
        )
        pixels = np.asarray(Image.open(io.BytesIO(image.read())).convert("RGBA"))
        assert pixels[..., 3].max() == 255
        return "GetMap with TIME"

    return cell


def owslib_wcs(m: Matrix) -> str:
    from owslib.wcs import WebCoverageService

    wcs = WebCoverageService(m.url("/wcs"), version="2.0.1")
    response = wcs.getCoverage(
        identifier=S2_A, format="image/tiff", subsets=[("E", 600000, 601000)]
    )
    assert response.read()[:4] == b"II*\x00"
    return "GetCoverage trim"


def owslib_wps(m: Matrix) -> str:
    from owslib.wps import WebProcessingService

    wps = WebProcessingService(m.url("/wps"), version="1.0.0", skip_caps=True)
    execution = wps.execute("echo", inputs=[("stringInput", "matrix")], mode="sync")
    assert execution.isSucceded(), execution.status
    return "Execute echo"


def owslib_ogcapi_processes(m: Matrix) -> str:
    from owslib.ogcapi.processes import Processes

    api = Processes(m.url("/ogcapi"))
    assert "echo" in {p["id"] for p in api.processes()}
    result = api.execute("echo", {"stringInput": "matrix"})
    assert "matrix" in json.dumps(result)
    return "execute echo"


# --- pystac-client, birdy, QGIS -----------------------------------------------------------------
def pystac_filter_sort(m: Matrix) -> str:
    from pystac_client import Client

    client = Client.open(m.url("/stac"))
    search = client.search(
        collections=["sentinel-2-l2a"],
        filter={"op": "<", "args": [{"property": "eo:cloud_cover"}, 50]},
        filter_lang="cql2-json",
        sortby="-properties.datetime",
    )
    ids = [item.id for item in search.items()]
    assert ids[:1] == [S2_B] and S2_A not in ids  # S2_A is 80 % cloudy
    return "CQL2 filter + sortby"


def birdy_echo(progress: bool) -> Callable[[Matrix], str]:
    def cell(m: Matrix) -> str:
        from birdy import WPSClient

        client = WPSClient(m.url("/wps"), progress=progress)
        result = client.echo(stringinput="matrix", boundingboxinput=None)
        assert result.get(asobj=True).stringoutput == "matrix"
        return "echo " + ("async" if progress else "sync")

    return cell


def birdy_cloud_mask(m: Matrix) -> str:
    from birdy import WPSClient

    client = WPSClient(m.url("/wps"), progress=True)
    result = client.cloud_mask(product=S2_A, method="rules", aoi=None)
    out = result.get(asobj=False)
    assert 0 <= out.cloud_cover <= 100
    return "cloud-mask async, mask COG by reference"


def qgis_layers(m: Matrix) -> str:
    west, south, east, north = product_store(m.suite.settings).get(S2_A).bbox
    script = Path(__file__).parent.parent / "qgis" / "render_layers.py"
    done = subprocess.run(
        [QGIS_PYTHON, str(script), m.url("").rstrip("/"), str(m.tmp)]
        + [str(v) for v in (west, south, east, north)]
        + ["2024-06-01T10:00:00Z", S2_A],
        capture_output=True,
        text=True,
        env=_env(m, "qgis"),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-400:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    painted = {name: report[name]["painted"] for name in ("wmts", "wms", "wcs")}
    assert all(value > 1000 for value in painted.values()), report
    return f"painted pixels {painted}"


def qgis_oapif(m: Matrix) -> str:
    script = Path(__file__).parent.parent / "qgis" / "oapif_layer.py"
    done = subprocess.run(
        [QGIS_PYTHON, str(script), m.url("/stac"), "sentinel-2-l2a", "16", "59", "18", "60"],
        capture_output=True,
        text=True,
        env=_env(m, "qgis"),
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-400:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["valid"] and S2_A in report["ids"], report
    return "OAPIF provider on the STAC API"


CELLS: list[tuple[str, str, Callable[[Matrix], str] | None]] = [
    ("GDAL", "WMTS", gdal_wmts),
    ("GDAL", "WMS (JPEG default)", gdal_wms),
    ("GDAL", "WCS", gdal_wcs),
    ("GDAL", "WCS time series", gdal_wcs_series),
    ("GDAL", "CSW", gdal_csw),
    ("GDAL", "OAPIF on STAC", gdal_oapif_on_stac),
    ("GDAL", "OGCAPI coverage", None),
    ("GDAL", "STACIT", gdal_stacit),
    ("GDAL", "/vsicurl/", gdal_vsicurl),
    ("OWSLib", "CSW 2.0.2", owslib_csw202),
    ("OWSLib", "CSW 3.0", owslib_csw30),
    ("OWSLib", "WMTS", owslib_wmts),
    ("OWSLib", "WMS 1.1.1", owslib_wms("1.1.1")),
    ("OWSLib", "WMS 1.3.0", owslib_wms("1.3.0")),
    ("OWSLib", "WCS 2.0.1", owslib_wcs),
    ("OWSLib", "WPS 1.0.0", owslib_wps),
    ("OWSLib", "OGC API - Processes", owslib_ogcapi_processes),
    ("pystac-client", "search filter+sort", pystac_filter_sort),
    ("birdy", "echo sync", birdy_echo(False)),
    ("birdy", "echo async", birdy_echo(True)),
    ("birdy", "cloud-mask", birdy_cloud_mask),
    ("birdy", "bbox input", None),
    ("birdy", "boolean output", None),
    ("QGIS 3.22", "WMTS, WMS+TIME, WCS", qgis_layers),
    ("QGIS 3.22", "OAPIF on STAC", qgis_oapif),
]


def _run_cells(
    matrix: Matrix, cells: list[tuple[str, str, Callable[[Matrix], str] | None]]
) -> None:
    for client, operation, cell in cells:
        matrix.run(client, operation, cell)


def test_client_matrix(suite: LiveSuite, tmp_path: Path) -> None:
    store = product_store(suite.settings)
    directory = tmp_path / "products"
    directory.mkdir()
    for record in (
        dataclasses.replace(make_s2_product(directory, S2_A, start=T_A, seed=3), cloud_cover=80.0),
        dataclasses.replace(make_s2_product(directory, S2_B, start=T_B, seed=4), cloud_cover=5.0),
        make_s1_product(directory, S1),
    ):
        final = suite.settings.cog_dir / Path(record.file_path).name
        Path(record.file_path).replace(final)
        store.upsert(dataclasses.replace(record, file_path=str(final)))
    time.sleep(1.5)  # the maps service re-reads the store at most once a second
    matrix = Matrix(suite, tmp_path)
    # QGIS's two cells take about as long as all the others together: they run in a
    # thread beside them (each list in its own order), as two users of one suite would.
    # The others stay in the main thread: birdy's async mode sets a signal handler.
    with ThreadPoolExecutor(1) as pool:
        qgis = pool.submit(_run_cells, matrix, [c for c in CELLS if c[0].startswith("QGIS")])
        _run_cells(matrix, [c for c in CELLS if not c[0].startswith("QGIS")])
        qgis.result()
    matrix.results = {(c, o): matrix.results[(c, o)] for c, o, _ in CELLS}  # table order
    print("\n" + matrix.table())
    failed = {key: note for key, (result, note) in matrix.results.items() if result == "FAIL"}
    assert not failed, "\n" + matrix.table()


def test_matrix_lists_limits_with_versions() -> None:
    """A limit names the client version it was seen with, so it can be retried later."""
    assert all(any(ch.isdigit() for ch in reason) for reason in LIMITS.values())
    limit_cells = {(client, operation) for client, operation, cell in CELLS if cell is None}
    assert limit_cells == set(LIMITS)
