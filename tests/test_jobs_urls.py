"""Which references a job may fetch."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogcsdl.errors import Forbidden, InvalidParameterValue
from ogcsdl.jobs.urls import check_url, own_product_id
from tests.processing_support import processing_settings


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/x.tif",
        "http://127.0.0.1:5000/data/x.tif",
        "http://localhost/x.tif",
        "http://10.1.2.3/x.tif",
        "http://192.168.0.10/x.tif",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x.tif",
        "http://[::ffff:127.0.0.1]/x.tif",
        "http://0.0.0.0/x.tif",
    ],
)
def test_forbidden_references(tmp_path: Path, url: str) -> None:
    settings = processing_settings(tmp_path)
    with pytest.raises(Forbidden) as info:
        check_url(url, settings)
    assert info.value.status == 403 and info.value.code == "InvalidParameterValue"


def test_public_address_allowed_and_private_allowed_by_config(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path)
    assert check_url("http://93.184.216.34/x.tif", settings) == "http://93.184.216.34/x.tif"
    relaxed = processing_settings(tmp_path, security={"allow_private_urls": True})
    assert check_url("http://127.0.0.1:9/x.tif", relaxed)
    with pytest.raises(Forbidden):  # the scheme rule holds even then
        check_url("file:///etc/passwd", relaxed)


def test_unresolvable_host_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue):
        check_url("http://no-such-host.invalid/x.tif", processing_settings(tmp_path))


def test_own_urls_name_products(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path, public_url="http://127.0.0.1:5999")
    assert own_product_id("http://127.0.0.1:5999/data/S2A_X.tif", settings) == "S2A_X"
    wcs = "http://127.0.0.1:5999/wcs?service=WCS&version=2.0.1&request=GetCoverage&coverageId=S2A_Y"
    assert own_product_id(wcs, settings) == "S2A_Y"
    assert (
        own_product_id("http://127.0.0.1:5999/wms?LAYERS=S2A_Z&request=GetMap", settings) == "S2A_Z"
    )
    coverages = "http://127.0.0.1:5999/coverages/collections/S2A_W/coverage?f=GTiff"
    assert own_product_id(coverages, settings) == "S2A_W"
    assert own_product_id("http://127.0.0.1:6000/data/S2A_X.tif", settings) is None
    assert own_product_id("http://example.org/data/S2A_X.tif", settings) is None
