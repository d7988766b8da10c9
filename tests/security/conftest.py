"""The corpus runs against the session's live suite, with one product of its own and a
loopback canary server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import Band, ProductRecord
from tests.canary import Canary, canary_server
from tests.live import LiveSuite

PRODUCT = "hostile-corpus-s2"
# Where the product was "ingested from": a server path no answer may show.
SECRET_SOURCE = "/srv/ingest/secret-area/S2B_MSIL2A_20240601T102559.SAFE"


@dataclass
class Corpus:
    suite: LiveSuite
    canary: Canary
    product: str
    secrets: list[str]


def write_product(directory: Path) -> ProductRecord:
    """A 256 x 256 pixel, 4-band uint16 COG in UTM 33N and its record."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{PRODUCT}.tif"
    transform = from_origin(600000, 6580000, 20, 20)
    data = (np.indices((256, 256)).sum(axis=0) % 4000 + 1).astype("uint16")
    profile = {
        "driver": "COG",
        "width": 256,
        "height": 256,
        "count": 4,
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": transform,
        "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.stack([data] * 4))
    west, south, east, north = transform_bounds(
        "EPSG:32633", "EPSG:4326", 600000, 6580000 - 256 * 20, 600000 + 256 * 20, 6580000
    )
    when = datetime(2024, 6, 1, 10, 25, 59, tzinfo=UTC)
    return ProductRecord(
        identifier=PRODUCT,
        title="Hostile corpus product",
        collection="hostile-corpus",
        start=when,
        end=when,
        footprint_wkt=(
            f"POLYGON(({west} {south},{east} {south},{east} {north},{west} {north},{west} {south}))"
        ),
        bbox=(west, south, east, north),
        crs="EPSG:32633",
        resolution=(20.0, 20.0),
        width=256,
        height=256,
        bands=[Band("B02"), Band("B03"), Band("B04"), Band("B08")],
        file_path=str(path),
        file_size=path.stat().st_size,
        lineage=f"ogcsdl ingest (sentinel-2 SAFE) of {SECRET_SOURCE}: bands stacked",
        source=SECRET_SOURCE,
    )


@pytest.fixture(scope="module")
def corpus(suite: LiveSuite) -> Iterator[Corpus]:
    store = product_store(suite.settings)
    store.upsert(write_product(suite.settings.cog_dir))
    time.sleep(1.2)  # /maps and /coverages re-read the store at most once a second
    settings = suite.settings
    secrets = [
        str(settings.data_dir),
        "/srv/ingest",
        "root:x:0:0",
        f"127.0.0.1:{settings.catalogue.port}",
        f"127.0.0.1:{settings.render.port}",
        f"127.0.0.1:{settings.cluster.port}",
    ]
    xml = (200, {"Content-Type": "text/xml"}, b"<canary/>")
    with canary_server(responder=lambda _path: xml) as canary:  # each case: no hit of its own
        yield Corpus(suite, canary, PRODUCT, secrets)
    store.delete(PRODUCT)
