"""PostGIS stopped under a running suite: /health and the services that need the
database answer 503 (an OGC exception, no traceback) while it is down, and everything
recovers by itself, without restarting the suite, once it is back."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.live import run_suite
from tests.postgis import postgis_server
from tests.processing_support import wait_for

pytestmark = pytest.mark.live
NEEDS_DATABASE = [
    "stac/search?limit=1",
    "ogcapi/jobs",
    "wcs?service=WCS&version=2.0.1&request=GetCapabilities",
    "csw?service=CSW&version=2.0.2&request=GetRecords&typenames=csw:Record&elementsetname=full"
    "&resulttype=results&maxrecords=5",
]


def _status(url: str) -> int:
    return requests.get(url, timeout=60).status_code


def test_postgis_stopped_then_back(tmp_path: Path) -> None:
    with postgis_server() as database:
        with run_suite(tmp_path, {"database": {"url": database.url}}) as suite:
            urls = [suite.url(path) for path in NEEDS_DATABASE]
            assert [_status(url) for url in urls] == [200] * len(urls)
            database.stop()
            wait_for(lambda: _status(suite.url("health")) == 503, timeout_s=60, interval_s=0.5)
            report = requests.get(suite.url("health"), timeout=60).json()
            assert report["components"]["database"]["status"] == "down"
            for url in urls:
                response = requests.get(url, timeout=60)
                assert response.status_code == 503, (url, response.status_code, response.text)
                assert "Traceback" not in response.text
            database.start()
            wait_for(lambda: _status(suite.url("health")) == 200, timeout_s=60, interval_s=0.5)
            assert [_status(url) for url in urls] == [200] * len(urls)
