"""The synthetic demo set looks like real Sentinel data and runs through ingest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import requests
from lxml import etree

from ogcsdl.catalogue.factory import product_store
from ogcsdl.config import PROJECT_ROOT, load_settings
from ogcsdl.demo import generate_demo_set
from ogcsdl.ingest import detect
from tests import live, rasters


def _band(safe: Path, name: str) -> np.ndarray:
    path = next(safe.glob(f"GRANULE/*/IMG_DATA/**/*_{name}*.jp2"))
    with rasterio.open(path) as src:
        return src.read(1)


def test_demo_set_has_the_real_layouts(tmp_path: Path) -> None:
    paths = generate_demo_set(tmp_path, size=120)
    readers = [detect(path).name for path in paths]
    assert readers == [
        "sentinel-2-safe",
        "sentinel-2-safe",
        "sentinel-1-geotiff",
        "sentinel-1-geotiff",
    ]
    l2a, l1c, s1_pre, s1_post = paths
    assert l2a.name.startswith("S2A_MSIL2A_20210814") and l2a.suffix == ".SAFE"
    assert (l1c / "MTD_MSIL1C.xml").is_file()
    assert s1_pre.name.startswith("S1A_IW_GRDH_1SDV_20210806")
    # 10/20/60 m bands at their native sizes, as in a real product.
    with rasterio.open(next(l2a.glob("GRANULE/*/IMG_DATA/R60m/*_B01_60m.jp2"))) as b01:
        assert (b01.width, b01.res) == (20, (60.0, 60.0))


def test_demo_reflectances_clouds_and_water_are_plausible(tmp_path: Path) -> None:
    l2a, _, s1_pre, s1_post = generate_demo_set(tmp_path, size=240)
    red, nir, scl = _band(l2a, "B04_10m"), _band(l2a, "B08_10m"), _band(l2a, "SCL")
    red20, nir20 = red[::2, ::2].astype(float), nir[::2, ::2].astype(float)
    valid = red20 > 0
    ndvi = (nir20 - red20) / np.maximum(nir20 + red20, 1)
    vegetation, water = (scl == 4) & valid, (scl == 6) & valid
    assert vegetation.any() and water.any()
    assert ndvi[vegetation].mean() > 0.6  # healthy vegetation
    assert ndvi[water].mean() < 0  # water: NIR darker than red
    assert 150 < np.median(red20[vegetation]) < 800  # reflectance x 10000
    clouds = np.isin(scl, (8, 9)) & valid
    assert red20[clouds].mean() > 4000  # clouds are bright
    assert (scl == 3).any() and (scl == 0).any()  # shadows, and a nodata swath edge
    # The metadata's cloud cover agrees with the classification.
    root = etree.parse(str(l2a / "MTD_MSIL2A.xml")).getroot()
    stated = float(root.xpath("//*[local-name()='Cloud_Coverage_Assessment']/text()")[0])
    assert abs(stated - 100 * clouds.sum() / valid.sum()) < 5
    # Sentinel-1: the flood makes more of the scene dark (open water) in VV.
    with rasterio.open(s1_pre) as pre, rasterio.open(s1_post) as post:
        vv_pre, vv_post = pre.read(1), post.read(1)
        assert pre.descriptions == ("VV", "VH")
    assert np.nanmean(vv_post < -18) > np.nanmean(vv_pre < -18) + 0.05


def test_demo_is_deterministic(tmp_path: Path) -> None:
    one = generate_demo_set(tmp_path / "a", size=60)
    two = generate_demo_set(tmp_path / "b", size=60)
    np.testing.assert_array_equal(_band(one[0], "B02_10m"), _band(two[0], "B02_10m"))


@pytest.mark.live
def test_demo_command_generates_ingests_and_serves(tmp_path: Path) -> None:
    """``ogcsdl demo --no-serve`` generates and ingests; ``ogcsdl demo`` again on the same
    data directory reuses the set, updates the same records and serves them with the
    real suite: the products are in the CSW catalogue and their COGs download with
    ranges through the gateway. (One data directory for both runs: a demo set is
    generated once per test run, not once per command.)"""
    config = live.write_config(tmp_path, live.one_worker_each())
    extra = tmp_path / "extra"
    rasters.write_s2_band_folder(extra / "imgs_2", prefix="T30UWU_20170621T110651")
    demo = [sys.executable, "-m", "ogcsdl", "--config", str(config), "demo", "--data", str(extra)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("OGCSDL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    completed = subprocess.run(
        [*demo, "--no-serve"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "generated 4 synthetic products" in completed.stdout
    assert "5 ingested, 0 failed" in completed.stdout
    settings = load_settings(config)
    collections = product_store(settings).collections()
    assert collections == ["sentinel-1-grd", "sentinel-2-l1c", "sentinel-2-l2a"]
    assert not [p for p in settings.data_dir.iterdir() if p.name.startswith(".")]  # no staging

    # A second run reuses the generated set, updates the same records, and serves.
    log_file = tmp_path / "demo.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            demo, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
        )
    suite = live.LiveSuite(settings.public_url, settings, config, log_file, process)
    try:
        live._wait_until_up(suite, timeout_s=180)
        assert "generated" not in suite.log_tail(400) and "5 ingested, 0 failed" in suite.log_tail(
            400
        )
        assert len(product_store(settings).list()) == 5
        records = product_store(settings).list("sentinel-2-l2a")
        assert len(records) == 1
        identifier = records[0].identifier
        cog = requests.get(
            suite.url(f"data/{identifier}.tif"), headers={"Range": "bytes=0-3"}, timeout=30
        )
        assert cog.status_code == 206 and cog.content == b"II*\x00"
        csw = requests.get(
            suite.url("csw"),
            params={
                "service": "CSW",
                "version": "2.0.2",
                "request": "GetRecordById",
                "id": identifier,
                "elementsetname": "full",
            },
            timeout=30,
        )
        assert csw.status_code == 200 and identifier in csw.text, csw.text[:500]
    finally:
        assert live.stop_suite(suite) == 0, suite.log_tail()
    assert not [p for p in settings.data_dir.iterdir() if p.name.startswith(".")]
