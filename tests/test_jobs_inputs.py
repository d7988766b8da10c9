"""Input resolution on the worker: product ids, fetched URLs (checked, no redirects,
size-limited) and lazily chunked big rasters."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import dask.array
import numpy as np
import pytest

from ogcsdl.errors import Forbidden, InvalidParameterValue, PayloadTooLarge
from ogcsdl.jobs import inputs as inputs_module
from ogcsdl.jobs.inputs import read_raster, resolve_inputs
from ogcsdl.jobs.registry import load
from tests.canary import serving
from tests.processing_support import processing_settings, tiny_product


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    source = tmp_path / "served.tif"
    settings = processing_settings(tmp_path / "seed")
    source.write_bytes(Path(tiny_product(settings, "SERVED").file_path).read_bytes())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's API
            if self.path == "/image.tif":
                body = source.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/")
                self.end_headers()
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url


def _scale(settings: object) -> tuple[object, object]:
    registry = load(settings)  # type: ignore[arg-type]
    return registry, registry.get("scale").description


def test_url_input_is_fetched_when_private_addresses_are_allowed(
    tmp_path: Path, http_server: str
) -> None:
    settings = processing_settings(tmp_path / "var", security={"allow_private_urls": True})
    registry, description = _scale(settings)
    resolved = resolve_inputs(
        registry, description, {"image": {"href": f"{http_server}/image.tif"}}, settings, tmp_path
    )  # type: ignore[arg-type]
    image = resolved["image"]
    assert image.crs == "EPSG:32633" and image.data.shape == (1, 64, 64)
    assert image.source_ids == (f"{http_server}/image.tif",)
    assert resolved["factor"] == 2.0  # the default, filled by the registry


def test_url_input_is_refused_by_default(tmp_path: Path, http_server: str) -> None:
    settings = processing_settings(tmp_path / "var")
    registry, description = _scale(settings)
    with pytest.raises(Forbidden):
        resolve_inputs(
            registry, description, {"image": f"{http_server}/image.tif"}, settings, tmp_path
        )  # type: ignore[arg-type]


def test_redirects_missing_files_and_size_limits(tmp_path: Path, http_server: str) -> None:
    settings = processing_settings(tmp_path / "var", security={"allow_private_urls": True})
    registry, description = _scale(settings)
    # even with private addresses allowed, a redirect to a link-local (cloud metadata)
    # address is refused before any connection
    with pytest.raises(Forbidden, match="link-local"):
        resolve_inputs(
            registry, description, {"image": f"{http_server}/redirect"}, settings, tmp_path
        )  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterValue, match="404"):
        resolve_inputs(
            registry, description, {"image": f"{http_server}/missing.tif"}, settings, tmp_path
        )  # type: ignore[arg-type]
    small = processing_settings(
        tmp_path / "var",
        security={"allow_private_urls": True},
        processing={"fetch_max_bytes": 1024},
    )
    with pytest.raises(PayloadTooLarge):
        resolve_inputs(
            registry, description, {"image": f"{http_server}/image.tif"}, small, tmp_path
        )  # type: ignore[arg-type]


def test_big_rasters_are_read_lazily_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = processing_settings(tmp_path / "var", ingest={"blocksize": 64})
    record = tiny_product(settings, "BIG", size=256)
    eager = read_raster(record.file_path, ["B04"])
    monkeypatch.setattr(inputs_module, "_LAZY_PIXELS", 100)
    monkeypatch.setattr(inputs_module, "_CHUNK", 150)
    lazy = read_raster(record.file_path, ["B04"])
    assert isinstance(lazy.data.data, dask.array.Array)
    # whole 64 px COG blocks per chunk (2 x 64 <= 150), all bands in one chunk
    assert lazy.data.data.chunks == ((1,), (128, 128), (128, 128))
    np.testing.assert_array_equal(lazy.data.values, eager.data.values)
    assert lazy.band_names == ["B04"]


def test_product_input_carries_the_records_sun_angles(tmp_path: Path) -> None:
    from ogcsdl.ingest.pipeline import ingest_product
    from tests import rasters

    settings = processing_settings(tmp_path / "var")
    record = ingest_product(settings, rasters.write_s2_safe_product(tmp_path / "in", "L1C", 60))
    registry = load(settings)
    description = registry.get("cloud-mask").description
    product = resolve_inputs(
        registry, description, {"product": record.identifier}, settings, tmp_path
    )["product"]  # type: ignore[arg-type]
    assert product.metadata["sun_azimuth"] == record.extra["sun_azimuth"]
    assert product.metadata["sun_zenith"] == record.extra["sun_zenith"]
