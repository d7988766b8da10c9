"""PostGIS stopped under a running suite (the access-controlled one, ``secured_suite``): /health and the services that need the
database answer 503 (an OGC exception, no traceback) while it is down, and everything
recovers by itself, without restarting the suite, once it is back."""

from __future__ import annotations

import pytest
import requests

from tests.live import LiveSuite
from tests.postgis import PostgisServer
from tests.processing_support import wait_for
from tests.secured import bearer

pytestmark = pytest.mark.live
NEEDS_DATABASE = [
    "stac/search?limit=1",
    "ogcapi/jobs",  # with a key: the job store, and the key check itself
    "wcs?service=WCS&version=2.0.1&request=GetCapabilities",
    "csw?service=CSW&version=2.0.2&request=GetRecords&typenames=csw:Record&elementsetname=full"
    "&resulttype=results&maxrecords=5",
]


def _get(url: str) -> requests.Response:
    return requests.get(url, headers=bearer("alice"), timeout=60)


def test_postgis_stopped_then_back(
    secured_suite: LiveSuite, secured_database: PostgisServer
) -> None:
    urls = [secured_suite.url(path) for path in NEEDS_DATABASE]
    health = secured_suite.url("health")
    assert [_get(url).status_code for url in urls] == [200] * len(urls)
    secured_database.stop()
    try:
        wait_for(lambda: _get(health).status_code == 503, timeout_s=60, interval_s=0.5)
        assert _get(health).json()["components"]["database"]["status"] == "down"
        for url in urls:
            response = _get(url)
            assert response.status_code == 503, (url, response.status_code, response.text)
            assert "Traceback" not in response.text
    finally:
        secured_database.start()
    wait_for(lambda: _get(health).status_code == 200, timeout_s=60, interval_s=0.5)
    assert [_get(url).status_code for url in urls] == [200] * len(urls)
