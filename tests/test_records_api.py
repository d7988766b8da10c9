"""OGC API - Records at /records: pygeoapi's Records API over our pycsw (one source of
truth), in-process against a live pycsw over the sample products."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from ogcsdl.catalogue.records_api import make_app
from ogcsdl.config import load_settings
from ogcsdl.errors import NotFound
from tests.catalogue_fixtures import SAMPLE_IDS, Catalogue
from tests.edge_support import behind_edge

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def client(catalogue: Catalogue) -> Client:
    return Client(make_app(catalogue.settings))


def _json(client: Client, path: str, **params: str) -> dict:
    response = client.get(path, query_string={"f": "json", **params})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def test_items_are_the_catalogue_records(client: Client, catalogue: Catalogue) -> None:
    page = _json(client, "/collections/products/items", limit="50")
    ids = {feature["id"] for feature in page["features"]}
    assert ids == set(SAMPLE_IDS)
    assert page["numberMatched"] == len(SAMPLE_IDS)
    one = _json(client, "/collections/products/items/S2A-GBG-0715")
    assert one["id"] == "S2A-GBG-0715" and one["properties"]["title"]
    internal = f":{catalogue.settings.catalogue.port}/"
    assert one["links"] and not any(internal in link["href"] for link in one["links"])


def test_bbox_q_and_datetime(client: Client) -> None:
    gothenburg = _json(client, "/collections/products/items", bbox="11.2,57.2,11.8,57.8")
    assert {f["id"] for f in gothenburg["features"]} == {"S2A-GBG-0715"}
    text = _json(client, "/collections/products/items", q="Gothenburg")
    assert "S2A-GBG-0715" in {f["id"] for f in text["features"]}


def test_unknown_record_and_path(client: Client) -> None:
    assert client.get("/collections/products/items/no-such-id?f=json").status_code == 404
    with pytest.raises(NotFound):  # raised to the gateway edge, which renders problem JSON
        client.get("/collections/nope/items")


@pytest.mark.parametrize(
    "query",
    [
        "offset=99999999999999999999",
        "bbox=nan,nan,nan,nan",
        "bbox=1e400,1,2,3",
        "bbox=1,2,inf,4",
        "datetime=garbage",  # searched for, matched nothing: a 200 hiding the mistake
        "datetime=2021-13-45",
        "datetime=2020-01-01/garbage",
    ],
)
def test_values_pycsw_failed_on_are_400(tmp_path: Path, query: str) -> None:
    """Each was a 500 ("query error") or an empty 200: refused before pygeoapi hands
    them to pycsw (so no catalogue is needed here)."""
    settings = load_settings(None, data_dir=str(tmp_path))
    client = Client(behind_edge(settings, "/records"))
    response = client.get(f"/collections/products/items?{query}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


def test_open_datetime_intervals_find_every_record(client: Client) -> None:
    """pygeoapi's CSW facade compared the ends as text: 2000-01-01/.. (date < '..')
    found nothing, 2000-01-01/ (date < '') was a 500."""
    for value in ("2000-01-01/..", "2000-01-01/", "../2100-01-01", "/2100-01-01"):
        page = _json(client, "/collections/products/items", datetime=value, limit="50")
        assert {f["id"] for f in page["features"]} == set(SAMPLE_IDS), value


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "POST"])
@pytest.mark.parametrize(
    "path",
    ["/", "/collections/products", "/collections/products/items", "/collections/products/items/x"],
)
def test_a_method_the_resource_does_not_allow_is_405_with_allow(
    tmp_path: Path, method: str, path: str
) -> None:
    """RFC 9110 section 15.5.6: 405 and an Allow header (it was a 404, as if the resource
    did not exist). Read-only: records are published into the product store, not here."""
    settings = load_settings(None, data_dir=str(tmp_path))
    client = Client(behind_edge(settings, "/records"))
    response = client.open(path, method=method, json={"id": "x"})
    assert response.status_code == 405, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}
    # An unknown resource stays a 404 whatever the method.
    assert client.open("/collections/nope/items", method=method).status_code == 404


def test_reading_methods_still_answer(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=str(tmp_path))
    client = Client(behind_edge(settings, "/records"))
    for method in ("GET", "HEAD", "OPTIONS"):
        response = client.open("/conformance", method=method)
        assert response.status_code == 200, (method, response.get_data(as_text=True))
