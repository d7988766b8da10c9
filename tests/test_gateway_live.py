"""The gateway under real gunicorn: landing page, health, COG download, OGC errors, a
busy port refused. Clean shutdown, restart and a dead component: test_lifecycle_live.py."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
from lxml import etree
from rasterio.transform import from_origin

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import Band, ProductRecord
from ogcsdl.config import load_settings
from tests.catalogue_fixtures import require_gdal_cli
from tests.live import LiveSuite, write_config

pytestmark = pytest.mark.live
OWS = "{http://www.opengis.net/ows/1.1}"


def _tiny_cog(path: Path) -> int:
    data = np.arange(64 * 64, dtype="uint16").reshape(1, 64, 64)
    profile = {
        "driver": "COG",
        "width": 64,
        "height": 64,
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": from_origin(600000, 6600000, 10, 10),
        "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path.stat().st_size


def _record(identifier: str, path: Path, size: int) -> ProductRecord:
    when = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    return ProductRecord(
        identifier=identifier,
        title="tiny",
        collection="raster",
        start=when,
        end=when,
        footprint_wkt="POLYGON((15 59.5,15.01 59.5,15.01 59.51,15 59.51,15 59.5))",
        bbox=(15.0, 59.5, 15.01, 59.51),
        crs="EPSG:32633",
        resolution=(10.0, 10.0),
        width=64,
        height=64,
        bands=[Band("band_1")],
        file_path=str(path),
        file_size=size,
    )


def test_landing_page_lists_every_service(suite: LiveSuite) -> None:
    page = requests.get(suite.url("/"), timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    listing = requests.get(suite.url("/?f=json"), timeout=30).json()
    hrefs = [link["href"] for link in listing["links"]]
    assert suite.url("csw?service=CSW&version=2.0.2&request=GetCapabilities") in hrefs
    assert all(href.startswith(suite.base_url) for href in hrefs)


def test_health_reports_components(suite: LiveSuite) -> None:
    response = requests.get(suite.url("health"), timeout=30)
    report = response.json()
    assert response.status_code == 200, report
    assert set(report["components"]) == {"database", "catalogue", "renderer", "cluster"}
    assert all(item["status"] == "up" for item in report["components"].values())


def test_cog_download_supports_ranges(suite: LiveSuite, tmp_path: Path) -> None:
    path = tmp_path / "tiny.tif"
    size = _tiny_cog(path)
    product_store(suite.settings).upsert(_record("gateway-tiny", path, size))
    whole = requests.get(suite.url("data/gateway-tiny.tif"), timeout=30)
    assert whole.status_code == 200 and whole.content == path.read_bytes()
    part = requests.get(
        suite.url("data/gateway-tiny.tif"), headers={"Range": "bytes=0-15"}, timeout=10
    )
    assert part.status_code == 206 and part.content == path.read_bytes()[:16]
    # GDAL reads it remotely, as QGIS would.
    info = subprocess.run(
        [require_gdal_cli("gdalinfo"), "-json", f"/vsicurl/{suite.url('data/gateway-tiny.tif')}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["size"] == [64, 64]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("nothing-here", 404, "NotFound"),
        ("data/unknown-product.tif", 404, "NotFound"),
        ("data/not-a-tif.txt", 404, "NotFound"),
    ],
)
def test_errors_are_ows_exception_reports(
    suite: LiveSuite, path: str, status: int, code: str
) -> None:
    response = requests.get(suite.url(path), timeout=30)
    assert response.status_code == status
    report = etree.fromstring(response.content)
    assert report.tag == f"{OWS}ExceptionReport"
    assert report.find(f"{OWS}Exception").get("exceptionCode") == code
    assert b"Traceback" not in response.content


def test_busy_port_is_refused_with_the_setting_to_change(tmp_path: Path) -> None:
    # the held port is retried for server.port_wait_s (10 s by default) before the refusal
    config_file = write_config(tmp_path, {"server": {"port_wait_s": 0.5}})
    port = load_settings(config_file).server.port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = subprocess.run(
            [sys.executable, "-m", "ogcsdl", "--config", str(config_file), "serve"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"port {port} (server.port) is already in use" in result.stderr
    assert "OGCSDL_SERVER__PORT" in result.stderr
    assert "Traceback" not in result.stderr
