"""Session fixture ``catalogue`` (pytest plugin, see conftest.py): pycsw under gunicorn,
as the supervisor runs it (``catalogue_child``) but advertising its own loopback URL,
over five sample products written through the product store, once on SQLite and once
on a real PostGIS. Tests through the gateway are in ``test_catalogue_live.py``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import yaml

from conformance.xmlcheck import pycsw_dir
from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import Band, ProductRecord
from ogcsdl.catalogue.service import catalogue_child
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import PROJECT_ROOT, Settings, load_settings
from ogcsdl.schema import create_schema
from ogcsdl.server.children import ChildSpec
from tests.ports import free_port
from tests.postgis import private_database
from tests.required import unavailable

CATALOGUE_PYTHON = PROJECT_ROOT / ".venv-catalogue" / "bin" / "python"
GMD = "http://www.isotc211.org/2005/gmd"
NS = {
    "csw": "http://www.opengis.net/cat/csw/2.0.2",
    "csw30": "http://www.opengis.net/cat/csw/3.0",
    "dc": "http://purl.org/dc/elements/1.1/",
    "gmd": GMD,
    "gco": "http://www.isotc211.org/2005/gco",
    "gml": "http://www.opengis.net/gml",
    "ows": "http://www.opengis.net/ows",
    "ows20": "http://www.opengis.net/ows/2.0",
    "atom": "http://www.w3.org/2005/Atom",
    "os": "http://a9.com/-/spec/opensearch/1.1/",
    "oai": "http://www.openarchives.org/OAI/2.0/",
}
CRS84 = "urn:ogc:def:crs:OGC:1.3:CRS84"


def _square(lon: float, lat: float) -> str:
    return f"POLYGON(({lon} {lat},{lon + 1} {lat},{lon + 1} {lat + 1},{lon} {lat + 1},{lon} {lat}))"


def product(
    identifier: str,
    *,
    title: str,
    platform: str,
    day: datetime,
    cloud_cover: float | None,
    footprint: str,
    bbox: tuple[float, float, float, float],
    collection: str = "sentinel-2-l1c",
    instrument: str = "MSI",
    sensor_type: str = "OPTICAL",
    product_type: str = "S2MSI1C",
    level: str = "Level-1C",
) -> ProductRecord:
    return ProductRecord(
        identifier=identifier,
        title=title,
        collection=collection,
        start=day,
        end=day.replace(minute=day.minute + 1),
        footprint_wkt=footprint,
        bbox=bbox,
        crs="EPSG:32633",
        resolution=(10.0, 10.0),
        width=256,
        height=256,
        bands=[Band("B04", "Red", 0.665), Band("B08", "NIR", 0.842)],
        file_path=f"/data/cogs/{identifier}.tif",
        file_size=1234,
        platform=platform,
        instrument=instrument,
        sensor_type=sensor_type,
        product_type=product_type,
        processing_level=level,
        cloud_cover=cloud_cover,
        lineage=f"Ingested from {identifier}.SAFE",
        keywords=["test"],
    )


def sample_products() -> list[ProductRecord]:
    """Five products over Sweden. S2-A's footprint is only the lower-right triangle of
    its bbox (valid data), so a box in the upper-left corner must not find it."""
    return [
        product(
            "S2A-STHLM-0601",
            title="Sentinel-2A L1C over Stockholm",
            platform="Sentinel-2A",
            day=datetime(2024, 6, 1, 10, 0, tzinfo=UTC),
            cloud_cover=5.0,
            footprint="POLYGON((17 59,18 59,18 60,17 59))",
            bbox=(17.0, 59.0, 18.0, 60.0),
        ),
        product(
            "S2B-STHLM-0610",
            title="Sentinel-2B L1C over Stockholm",
            platform="Sentinel-2B",
            day=datetime(2024, 6, 10, 10, 0, tzinfo=UTC),
            cloud_cover=50.0,
            footprint=_square(17, 59),
            bbox=(17.0, 59.0, 18.0, 60.0),
        ),
        product(
            "S2A-GBG-0715",
            title="Sentinel-2A L2A over Gothenburg",
            platform="Sentinel-2A",
            day=datetime(2024, 7, 15, 10, 30, tzinfo=UTC),
            cloud_cover=12.0,
            footprint=_square(11, 57),
            bbox=(11.0, 57.0, 12.0, 58.0),
            collection="sentinel-2-l2a",
            product_type="S2MSI2A",
            level="Level-2A",
        ),
        product(
            "S1A-STHLM-0605",
            title="Sentinel-1A GRD over Stockholm",
            platform="Sentinel-1A",
            day=datetime(2024, 6, 5, 5, 0, tzinfo=UTC),
            cloud_cover=None,
            footprint=_square(17, 59),
            bbox=(17.0, 59.0, 18.0, 60.0),
            collection="sentinel-1-grd",
            instrument="C-SAR",
            sensor_type="RADAR",
            product_type="GRD",
            level="Level-1",
        ),
        product(
            "S2B-UMEA-1201",
            title="Sentinel-2B L2A over Umea",
            platform="Sentinel-2B",
            day=datetime(2023, 12, 1, 10, 0, tzinfo=UTC),
            cloud_cover=80.0,
            footprint=_square(20, 63),
            bbox=(20.0, 63.0, 21.0, 64.0),
            collection="sentinel-2-l2a",
            product_type="S2MSI2A",
            level="Level-2A",
        ),
    ]


SAMPLE_IDS = {record.identifier for record in sample_products()}


@dataclass
class Catalogue:
    url: str  # pycsw's own URL, what it advertises
    settings: Settings
    store: ProductStore
    backend: str


def require_catalogue_env() -> None:
    """Skip (saying why) without the pycsw environment; in CI
    (``OGCSDL_REQUIRE_CATALOGUE=1``) its absence is a failure, never a skip."""
    if CATALOGUE_PYTHON.exists() and pycsw_dir() is not None:
        return
    reason = f"the pycsw environment is missing at {CATALOGUE_PYTHON} (run scripts/setup.sh)"
    unavailable("CATALOGUE", reason)


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
)
def catalogue(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Catalogue]:
    """pycsw under gunicorn on a free port, over the sample products."""
    require_catalogue_env()
    directory = tmp_path_factory.mktemp(f"catalogue-{request.param}")
    with ExitStack() as stack:
        database = None
        if request.param == "postgis":
            # A database of its own: the tests assert exactly which records it holds,
            # and other tests write to the session's shared database.
            server = request.getfixturevalue("postgis_url")
            database = {"url": stack.enter_context(private_database(server, "catalogue"))}
        samples = serve_samples(directory, workers=2, database=database)
        url, settings, store = stack.enter_context(samples)
        yield Catalogue(url, settings, store, request.param)


@contextmanager
def serve_samples(
    directory: Path, *, workers: int, database: dict[str, object] | None = None
) -> Iterator[tuple[str, Settings, ProductStore]]:
    """pycsw under gunicorn over the sample products, its settings in ``directory``:
    (its URL, the settings, the product store) while the block runs."""
    port = free_port()
    overrides: dict[str, object] = {
        "data_dir": str(directory),
        "catalogue": {"python": str(CATALOGUE_PYTHON), "port": port, "workers": workers},
    }
    if database is not None:
        overrides["database"] = database
    config_file = directory / "ogcsdl.yml"
    config_file.write_text(yaml.safe_dump(overrides), encoding="utf-8")
    settings = load_settings(config_file)
    create_schema(settings)
    store = product_store(settings)
    for record in sample_products():
        store.upsert(record)
    url = f"http://127.0.0.1:{port}/"
    with running_child(catalogue_child(settings, server_url=url), directory / "pycsw.log"):
        yield url, settings, store


@contextmanager
def running_child(spec: ChildSpec, log_file: Path) -> Iterator[subprocess.Popen[bytes]]:
    """pycsw's server started as the supervisor would, answering, for the block; then
    stopped (SIGTERM, SIGKILL after 20 s)."""
    process = start_child(spec, log_file)
    try:
        wait_ready(spec.ready_url or "", process, log_file)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_child(spec: ChildSpec, log_file: Path) -> subprocess.Popen[bytes]:
    """Start pycsw's server as the supervisor would; its log goes to ``log_file`` (an
    unread pipe fills up and blocks a worker that logs tracebacks)."""
    with log_file.open("wb") as log:
        return subprocess.Popen(
            spec.argv,
            env={**os.environ, **spec.env},
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )


def wait_ready(
    url: str, process: subprocess.Popen[bytes], log_file: Path, timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = log_file.read_text(errors="replace")
            raise RuntimeError(f"pycsw exited with {process.returncode}:\n{stderr[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"pycsw did not answer at {url}")


def ids_of(records: dict[str, object]) -> set[str]:
    return set(records) & SAMPLE_IDS


def require_gdal_cli(tool: str = "ogrinfo") -> str:
    """Path of a GDAL command-line client; skip without it, unless OGCSDL_REQUIRE_GDAL=1
    (CI), where a missing client is a failure."""
    path = shutil.which(tool)
    if path is None:
        unavailable(
            "GDAL", f"GDAL's {tool} is not installed (scripts/setup.sh --system installs gdal-bin)"
        )
    return path
