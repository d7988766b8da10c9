"""Maps and coverages through the real suite: gateway mounts, renderer child process
under gunicorn, products appearing without a restart."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

import numpy as np
import pytest
import requests
from owslib.wmts import WebMapTileService
from PIL import Image

from ogcsdl.catalogue.factory import product_store
from tests.live import LiveSuite
from tests.view_fixtures import make_s2_product

pytestmark = pytest.mark.live


def test_product_is_served_as_tiles_and_coverage_through_the_gateway(suite: LiveSuite) -> None:
    store = product_store(suite.settings)
    record = make_s2_product(
        suite.settings.cog_dir, "suite-view-s2", start=datetime(2023, 5, 5, tzinfo=UTC), seed=2
    )
    store.upsert(record)
    time.sleep(1.2)  # /maps re-reads the store at most once a second per worker
    wmts = WebMapTileService(suite.url("/maps/wmts/1.0.0/WMTSCapabilities.xml"))
    assert "suite-view-s2" in wmts.contents and "suite-view-s2.ndvi" in wmts.contents
    tile = wmts.gettile(
        layer="suite-view-s2",
        tilematrixset="GoogleMapsCompatible",
        tilematrix="11",
        row=602,
        column=1119,
        format="image/png",
        Time="2023-05-05T00:00:00Z",
    )
    alpha = np.asarray(Image.open(io.BytesIO(tile.read())).convert("RGBA"))[..., 3]
    assert (alpha == 255).sum() > 500  # rendered by the renderer child, not an empty tile
    coverage = requests.get(
        suite.url("/wcs"),
        params={
            "SERVICE": "WCS",
            "VERSION": "2.0.1",
            "REQUEST": "GetCoverage",
            "COVERAGEID": "suite-view-s2",
            "SUBSET": "E(600000,601000)",
        },
        timeout=60,
    )
    assert coverage.status_code == 200 and coverage.content[:4] == b"II*\x00"
    store.delete("suite-view-s2")
