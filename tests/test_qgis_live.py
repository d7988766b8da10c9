"""QGIS 3.22 (Debian python3-qgis, headless) loads our WMTS, WMS-with-TIME and WCS layers
and renders non-empty images. Skips when python3-qgis is not installed."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.required import unavailable
from tests.view_fixtures import ViewServices, make_s2_product, start_view_services

pytestmark = pytest.mark.live
QGIS_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).parent / "qgis" / "render_layers.py"


def _qgis_available() -> bool:
    if not Path(QGIS_PYTHON).exists():
        return False
    probe = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core"],
        capture_output=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewServices]:
    if not _qgis_available():
        unavailable(
            "QGIS",
            "QGIS Python bindings absent (apt-get install --no-install-recommends python3-qgis)",
        )
    directory = tmp_path_factory.mktemp("qgis")
    record = make_s2_product(
        directory / "src", "s2-qgis", start=datetime(2024, 6, 1, 10, 0, tzinfo=UTC), seed=4
    )
    services = start_view_services(directory, [record])
    yield services
    services.close()


def test_qgis_renders_wmts_wms_time_and_wcs(view: ViewServices, tmp_path: Path) -> None:
    from ogcsdl.catalogue.factory import product_store

    west, south, east, north = product_store(view.settings).get("s2-qgis").bbox
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(
        {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    )
    completed = subprocess.run(
        [
            QGIS_PYTHON,
            str(SCRIPT),
            view.base_url,
            str(tmp_path),
            str(west),
            str(south),
            str(east),
            str(north),
            "2024-06-01T10:00:00Z",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    for name in ("wmts", "wms", "wcs"):
        assert result[name]["valid"], result[name]
        assert result[name]["painted"] > 1000, (name, result)
