"""pycsw on PostGIS when its database goes away under it (``pycsw_database``): pycsw no
longer asks the database whether it is up before every request, so a search must still
answer right after the server dropped its pooled connections (a restart) and be a 503
(never pycsw's "Invalid query syntax" 400) while the database refuses connections."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from tests.catalogue_fixtures import (
    require_catalogue_env,
    serve_samples,
)
from tests.postgis import private_database

pytestmark = pytest.mark.postgis
OPENSEARCH = (
    "?mode=opensearch&service=CSW&version=3.0.0&request=GetRecords&typenames=csw:Record"
    "&resulttype=results&elementsetname=full&bbox=16.5,58.5,18.5,60.5"
)
CSW_POST = b"""<?xml version="1.0" encoding="UTF-8"?>
<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" service="CSW"
    version="2.0.2" resultType="results" maxRecords="10">
  <csw:Query typeNames="csw:Record"><csw:ElementSetName>brief</csw:ElementSetName></csw:Query>
</csw:GetRecords>"""


@pytest.fixture()
def pycsw_on_postgis(postgis_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(pycsw's URL, its database's URL): pycsw under gunicorn (one worker, so every
    request meets the same pooled connection) over the sample products."""
    require_catalogue_env()
    with (
        private_database(postgis_url, "catfault") as database_url,
        serve_samples(tmp_path, workers=1, database={"url": database_url}) as (url, _, _),
    ):
        yield url, database_url


def _drop_connections(database_url: str, allow: bool | None = None) -> int:
    """Terminate every other session on the database (what a restart does to pycsw's
    pooled connections); with ``allow`` set, allow or refuse new ones first."""
    name = database_url.rsplit("/", 1)[1]
    server_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server_url, autocommit=True) as conn:
        if allow is not None:
            conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(allow).lower()}")
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def _search(url: str) -> tuple[requests.Response, requests.Response]:
    get = requests.get(url + OPENSEARCH, timeout=30)
    post = requests.post(
        url, data=CSW_POST, headers={"Content-Type": "application/xml"}, timeout=30
    )
    return get, post


def test_search_survives_dropped_connections_and_is_503_while_the_database_refuses(
    pycsw_on_postgis: tuple[str, str],
) -> None:
    url, database_url = pycsw_on_postgis
    before = _search(url)
    assert [response.status_code for response in before] == [200, 200]
    assert b"<os:totalResults>3</os:totalResults>" in before[0].content  # of the 5 samples

    assert _drop_connections(database_url) >= 1  # pycsw's pooled connection, at least
    after = _search(url)
    assert [response.status_code for response in after] == [200, 200], after[1].text[:500]
    assert after[0].content.count(b"<atom:entry>") == before[0].content.count(b"<atom:entry>")
    assert b'numberOfRecordsMatched="5"' in after[1].content

    _search(url)  # a pooled connection again
    _drop_connections(database_url, allow=False)
    try:
        for response in _search(url):
            assert response.status_code == 503, response.text[:500]
            assert b"Could not initialize repository" in response.content
            assert b"Traceback" not in response.content
    finally:
        _drop_connections(database_url, allow=True)
    assert [response.status_code for response in _search(url)] == [200, 200]
