"""STAC API protocol behaviour in-process (werkzeug test client over the real WSGI app and
a real SQLite product store): what stac-api-validator and clients exercise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pygeoapi
import pytest
from werkzeug.test import Client

from ogcsdl.catalogue.factory import product_store
from ogcsdl.config import Settings
from ogcsdl.schema import create_schema
from ogcsdl.stac.openapi import MEDIA_TYPE
from tests.edge_support import behind_edge
from tests.postgis import private_database
from tests.stac_support import COLLECTION, five_records

OPENAPI_30_SCHEMA = Path(pygeoapi.__file__).parent / "schemas/openapi/openapi-3.0.x.json"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Client:
    directory = tmp_path_factory.mktemp("stac")
    settings = Settings(data_dir=directory / "var", public_url="http://example.test")
    settings.ensure_dirs()
    create_schema(settings)
    store = product_store(settings)
    for record in five_records(settings.cog_dir):
        store.upsert(record)
    return Client(behind_edge(settings, "/stac"))


def _get(client: Client, path: str, **params: Any) -> Any:
    return client.get(f"/{path}", query_string=params)


def _post(client: Client, body: Any) -> Any:
    return client.post("/search", data=json.dumps(body), content_type="application/json")


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [feature["id"] for feature in response.json["features"]]


def _link(document: dict[str, Any], rel: str) -> dict[str, Any]:
    return next(link for link in document["links"] if link["rel"] == rel)


# --- core: service description and documentation -------------------------------------


def test_service_desc_is_a_valid_openapi_30_document(client: Client) -> None:
    landing = _get(client, "").json
    service_desc = _link(landing, "service-desc")
    assert service_desc["type"] == MEDIA_TYPE
    response = _get(client, "api")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == MEDIA_TYPE
    schema = json.loads(OPENAPI_30_SCHEMA.read_text())
    jsonschema.validate(response.json, schema)
    assert "/search" in response.json["paths"] and "post" in response.json["paths"]["/search"]
    broken = {key: value for key, value in response.json.items() if key != "info"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_service_doc_is_html(client: Client) -> None:
    landing = _get(client, "").json
    assert _link(landing, "service-doc")["type"] == "text/html"
    response = _get(client, "api.html")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "/search" in response.get_data(as_text=True)


def test_items_page_has_self_link(client: Client) -> None:
    page = _get(client, f"collections/{COLLECTION}/items", limit=2).json
    assert _link(page, "self")["href"].startswith(
        f"http://example.test/stac/collections/{COLLECTION}/items"
    )
    assert _link(page, "next")["method"] == "GET"


# --- item search ---------------------------------------------------------------------

# Item 0's footprint is the triangle (10 59, 11 59, 10 60): its envelope's north-east
# corner (near 10.9 59.9) is outside it.
_INSIDE = [10.2, 59.2]
_OUTSIDE = [10.9, 59.9]
GEOMETRIES = {
    "Point": (
        {"type": "Point", "coordinates": _INSIDE},
        {"type": "Point", "coordinates": _OUTSIDE},
    ),
    "MultiPoint": (
        {"type": "MultiPoint", "coordinates": [_INSIDE, [30.0, 0.0]]},
        {"type": "MultiPoint", "coordinates": [_OUTSIDE, [30.0, 0.0]]},
    ),
    "LineString": (
        {"type": "LineString", "coordinates": [_INSIDE, [10.3, 59.3]]},
        {"type": "LineString", "coordinates": [_OUTSIDE, [10.95, 59.95]]},
    ),
    "MultiLineString": (
        {"type": "MultiLineString", "coordinates": [[_INSIDE, [10.3, 59.3]]]},
        {"type": "MultiLineString", "coordinates": [[_OUTSIDE, [10.95, 59.95]]]},
    ),
    "Polygon": (
        {
            "type": "Polygon",
            "coordinates": [[[10.1, 59.1], [10.3, 59.1], [10.1, 59.3], [10.1, 59.1]]],
        },
        {
            "type": "Polygon",
            "coordinates": [[[10.8, 59.8], [10.95, 59.8], [10.95, 59.95], [10.8, 59.8]]],
        },
    ),
    "MultiPolygon": (
        {
            "type": "MultiPolygon",
            "coordinates": [[[[10.1, 59.1], [10.3, 59.1], [10.1, 59.3], [10.1, 59.1]]]],
        },
        {
            "type": "MultiPolygon",
            "coordinates": [[[[10.8, 59.8], [10.95, 59.8], [10.95, 59.95], [10.8, 59.8]]]],
        },
    ),
    "GeometryCollection": (
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": _INSIDE}]},
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": _OUTSIDE}]},
    ),
}


@pytest.mark.parametrize("kind", sorted(GEOMETRIES))
def test_intersects_every_geometry_type_against_footprints(client: Client, kind: str) -> None:
    inside, outside = GEOMETRIES[kind]
    assert _ids(_get(client, "search", intersects=json.dumps(inside))) == ["stac-item-0"]
    assert _ids(_post(client, {"intersects": inside})) == ["stac-item-0"]
    assert _ids(_post(client, {"intersects": outside})) == []
    assert _ids(_get(client, "search", intersects=json.dumps(outside))) == []


@pytest.mark.parametrize(
    "body",
    [
        {"intersects": {"type": "Polygon"}},
        {"intersects": {"type": "Circle", "coordinates": [1, 2]}},
        {"intersects": "not json"},
        {"bbox": [0, 0, 1, 1], "intersects": {"type": "Point", "coordinates": [0, 0]}},
    ],
)
def test_bad_intersects_is_400(client: Client, body: dict[str, Any]) -> None:
    response = _post(client, body)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"


def test_limit_above_maximum_is_clamped(client: Client) -> None:
    response = _get(client, "search", limit=100000)
    assert response.status_code == 200
    assert response.json["numberReturned"] == 5
    assert _post(client, {"limit": 100000}).status_code == 200
    assert _get(client, "search", limit=0).status_code == 400


VALID_DATETIMES = [
    "2023-05-02T10:30:02Z",
    "2023-05-02t10:30:02z",
    "2023-05-02T12:30:02.5+02:00",
    "2023-05-02T10:30:02.123456789Z",
    "../2023-05-02T10:30:00Z",
    "2023-05-04T00:00:00Z/..",
    "/2023-05-02T10:30:00Z",
    "2023-05-04T00:00:00Z/",
    "1990-12-31T23:59:60Z/2023-05-02T10:30:00Z",
]
INVALID_DATETIMES = [
    "1985-04-12",
    "1985-12-12T23:20:50.52",
    "1937-01-01T12:00:27.87+0100",
    "1985-04-12T23:20:50,52Z",
    "1985-04-12T23:20:50.Z",
    "1985-13-12T23:20:50Z",
    "1985-12-01T00:06:61Z",
    "21985-12-12T23:20:50.52Z",
    "/",
    "../..",
    "/..",
    "a/b/c",
    "2024-01-02T00:00:00Z/2024-01-01T00:00:00Z",
]


@pytest.mark.parametrize("value", VALID_DATETIMES)
def test_valid_rfc3339_datetimes(client: Client, value: str) -> None:
    assert _get(client, "search", datetime=value).status_code == 200


@pytest.mark.parametrize("value", INVALID_DATETIMES)
def test_invalid_rfc3339_datetimes(client: Client, value: str) -> None:
    response = _get(client, "search", datetime=value)
    assert response.status_code == 400
    assert response.json["status"] == 400


def test_datetime_selects_the_right_items(client: Client) -> None:
    assert _ids(_get(client, "search", datetime="2023-05-02t10:30:02z")) == ["stac-item-1"]
    assert _ids(_get(client, "search", datetime="2023-05-04T00:00:00Z/..")) == [
        "stac-item-4",
        "stac-item-3",
    ]


@pytest.mark.parametrize("bbox", ["10,59,11,60", 10, True, None, [10, 59, "11", 60], [10, 59, 11]])
def test_post_bbox_must_be_a_json_array_of_numbers(client: Client, bbox: Any) -> None:
    if bbox is None:  # null means "no bbox"
        assert _post(client, {"bbox": bbox}).status_code == 200
        return
    response = _post(client, {"bbox": bbox})
    assert response.status_code == 400
    assert "bbox" in response.json["detail"]


def test_post_bbox_array_refined_by_footprint(client: Client) -> None:
    assert _ids(_post(client, {"bbox": [10.1, 59.1, 10.2, 59.2]})) == ["stac-item-0"]
    assert _ids(_post(client, {"bbox": [10.8, 59.8, 10.95, 59.95]})) == []


def test_post_paging_uses_post_with_body(client: Client) -> None:
    body = {"collections": [COLLECTION], "limit": 2}
    seen: list[str] = []
    page = _post(client, body).json
    while True:
        seen += [feature["id"] for feature in page["features"]]
        following = [link for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        link = following[0]
        assert link["method"] == "POST" and link["href"].endswith("/stac/search")
        assert link["body"]["collections"] == [COLLECTION] and "token" in link["body"]
        page = _post(client, link["body"]).json
    assert sorted(seen) == [f"stac-item-{index}" for index in range(5)]
    assert len(seen) == len(set(seen))


# --- extensions ----------------------------------------------------------------------


def test_conformance_declares_the_extensions(client: Client) -> None:
    conforms = _get(client, "conformance").json["conformsTo"]
    for needed in (
        "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
        "https://api.stacspec.org/v1.0.0/item-search#sort",
        "https://api.stacspec.org/v1.0.0/item-search#query",
        "https://api.stacspec.org/v1.0.0/item-search#fields",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    ):
        assert needed in conforms


def test_queryables(client: Client) -> None:
    landing = _get(client, "").json
    link = _link(landing, "http://www.opengis.net/def/rel/ogc/1.0/queryables")
    response = _get(client, "queryables")
    assert response.headers["Content-Type"] == "application/schema+json"
    document = response.json
    assert document["$id"] == link["href"] and document["type"] == "object"
    assert document["properties"]["eo:cloud_cover"]["type"] == "number"
    collection = _get(client, f"collections/{COLLECTION}/queryables").json
    assert collection["$id"].endswith(f"/collections/{COLLECTION}/queryables")
    assert _get(client, "collections/nope/queryables").status_code == 404


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eo:cloud_cover < 15", {"stac-item-1"}),
        ("eo:cloud_cover >= 10 AND eo:cloud_cover <= 20", {"stac-item-1", "stac-item-2"}),
        ("eo:cloud_cover IS NULL", {"stac-item-0"}),
        ("eo:cloud_cover BETWEEN 5 AND 25", {"stac-item-1", "stac-item-2"}),
        ("NOT id = 'stac-item-0' AND eo:cloud_cover < 15", {"stac-item-1"}),
        ("platform = 'sentinel-2b' AND id IN ('stac-item-3', 'x')", {"stac-item-3"}),
        ("id LIKE 'stac-item-_' AND eo:cloud_cover > 25", {"stac-item-3", "stac-item-4"}),
        ("S_INTERSECTS(geometry, POINT(10.2 59.2))", {"stac-item-0"}),
        ("S_INTERSECTS(geometry, POINT(10.9 59.9))", set()),
        ("datetime > TIMESTAMP('2023-05-04T00:00:00Z')", {"stac-item-3", "stac-item-4"}),
        (
            "T_INTERSECTS(datetime, INTERVAL('2023-05-02T00:00:00Z', '2023-05-03T00:00:00Z'))",
            {"stac-item-1"},
        ),
        ("T_AFTER(datetime, TIMESTAMP('2023-05-04T12:00:00Z'))", {"stac-item-4"}),
        ("collection = 'other'", set()),
    ],
)
def test_cql2_text_filter(client: Client, text: str, expected: set[str]) -> None:
    assert set(_ids(_get(client, "search", filter=text))) == expected
    assert (
        set(_ids(_get(client, "search", filter=text, **{"filter-lang": "cql2-text"}))) == expected
    )


@pytest.mark.parametrize(
    ("params", "bounds"),
    [
        ({"filter": "eo:cloud_cover < 15"}, (("<", 15.0),)),
        ({"filter": "15 > eo:cloud_cover AND id LIKE 'stac%'"}, (("<", 15.0),)),
        ({"filter": "eo:cloud_cover BETWEEN 5 AND 25"}, ((">=", 5.0), ("<=", 25.0))),
        ({"filter": "eo:cloud_cover < 15 OR eo:cloud_cover IS NULL"}, ()),
        ({"filter": "NOT eo:cloud_cover < 15"}, ()),
        ({"filter": "eo:cloud_cover NOT BETWEEN 5 AND 25"}, ()),
        ({"filter": "eo:cloud_cover <> 10"}, ()),
        (
            {"query": '{"eo:cloud_cover": {"gte": 10, "lt": 20, "neq": 15}}'},
            ((">=", 10.0), ("<", 20.0)),
        ),
        ({"query": '{"properties.eo:cloud_cover": {"eq": "10"}}'}, ()),  # text: judged per item
    ],
)
def test_cloud_cover_bounds_are_decided_in_sql(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    params: dict[str, str],
    bounds: tuple[tuple[str, float], ...],
) -> None:
    """What the filter or query implies about ``eo:cloud_cover`` goes to SQL (the store's
    ``cloud_cover`` column); the answers are the same as judging every item in Python."""
    from ogcsdl.stac import cql2, extensions
    from ogcsdl.stac.params import parse_search

    assert parse_search(params).query.cloud_cover == bounds
    in_sql = _ids(_get(client, "search", **params))
    monkeypatch.setattr(cql2, "numeric_bounds", lambda node, name: ())
    monkeypatch.setattr(extensions, "query_bounds", lambda value, name: ())
    assert parse_search(params).query.cloud_cover == ()
    assert in_sql == _ids(_get(client, "search", **params))


def test_cql2_json_filter_get_and_post(client: Client) -> None:
    cql = {
        "op": "and",
        "args": [
            {"op": "<", "args": [{"property": "eo:cloud_cover"}, 25]},
            {
                "op": "s_intersects",
                "args": [{"property": "geometry"}, {"bbox": [11.5, 58, 15, 61]}],
            },
        ],
    }
    assert set(_ids(_post(client, {"filter": cql}))) == {"stac-item-1", "stac-item-2"}
    assert set(_ids(_post(client, {"filter": cql, "filter-lang": "cql2-json"}))) == {
        "stac-item-1",
        "stac-item-2",
    }
    got = _get(client, "search", filter=json.dumps(cql), **{"filter-lang": "cql2-json"})
    assert set(_ids(got)) == {"stac-item-1", "stac-item-2"}
    # the same filter on the features endpoint
    got = _get(client, f"collections/{COLLECTION}/items", filter="eo:cloud_cover = 30")
    assert _ids(got) == ["stac-item-3"]


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "eo:cloud_cover <"},
        {"filter": "eo:cloud_cover < 10", "filter-lang": "cql-text"},
        {"filter": "{not json", "filter-lang": "cql2-json"},
        {"filter": '{"op": "<"}', "filter-lang": "cql2-json"},
        {"filter": "id = 'x'", "filter-crs": "EPSG:3857"},
        {"sortby": "geometry"},
        {"query": "{broken"},
        {"query": '{"eo:cloud_cover": {"less": 3}}'},
        {"intersects": '{"type": "Point", "coordinates": ["a", 1]}'},
    ],
)
def test_bad_extension_parameters_are_400(client: Client, params: dict[str, str]) -> None:
    response = _get(client, "search", **params)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("pattern", "text", "nocase", "matches"),
    [
        ("stac-item-_", "stac-item-3", False, True),
        ("stac-item-_", "stac-item-33", False, False),
        ("stac%", "stac-item-3", False, True),
        ("%item%", "stac-item-3", False, True),
        ("%item", "stac-item-3", False, False),
        ("%%", "", False, True),
        ("_", "", False, False),
        ("100\\%", "100%", False, True),
        ("100\\%", "1000", False, False),
        ("a\\_b", "a_b", False, True),
        ("a\\_b", "axb", False, False),
        ("a%b%c", "aXbYc", False, True),
        ("a%b%c", "aXcYb", False, False),
        ("STAC%", "stac-item", True, True),
        ("STAC%", "stac-item", False, False),
        ("%a" * 40 + "%b", "a" * 200, False, False),  # exponential for a regex
    ],
)
def test_like_matches_cql2_wildcards(pattern: str, text: str, nocase: bool, matches: bool) -> None:
    from ogcsdl.stac.cql2 import like_match, like_tokens

    assert like_match(like_tokens(pattern), text, nocase) is matches


def test_like_pattern_that_backtracks_answers(client: Client) -> None:
    """``%`` runs were a regular expression: this filter held a gateway worker until
    gunicorn killed it (the hostile corpus' STAC LIKE case)."""
    pattern = "%" + "%s" * 30 + "%x"
    response = _get(client, "search", filter=f"id LIKE '{pattern}'")
    assert response.status_code == 200 and _ids(response) == []
    cql = {"op": "like", "args": [{"property": "id"}, "%" * 70 + "a"]}
    assert _ids(_post(client, {"filter": cql})) == []


def test_like_pattern_must_be_text(client: Client) -> None:
    response = _post(client, {"filter": {"op": "like", "args": [{"property": "id"}, 5]}})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    "cql",
    [
        {"op": "not", "args": []},
        {"op": "and", "args": [{"op": "="}]},
        {"op": "=", "args": "x"},
        {"op": "=", "args": [{"property": "id"}]},
        {"op": "between", "args": [{"property": "eo:cloud_cover"}, 1]},
        {"op": "t_intersects", "args": [{"property": "datetime"}, {"timestamp": "garbage"}]},
        {"op": "zz", "args": []},
    ],
)
def test_bad_cql2_json_is_described_without_python_internals(
    client: Client, cql: dict[str, Any]
) -> None:
    """pygeofilter's errors were passed on: 'IndexError list index out of range',
    'TypeError Equal.__init__() missing 1 required positional argument', ..."""
    response = _post(client, {"filter": cql})
    assert response.status_code == 400
    detail = response.get_json()["detail"]
    assert detail.startswith("filter is not valid cql2-json")
    for python in ("Error", "list index", "__init__", "positional", "subscriptable", "'args'"):
        assert python not in detail, detail


def test_sortby_get_and_post(client: Client) -> None:
    assert _ids(_get(client, "search", sortby="-eo:cloud_cover")) == [
        "stac-item-4",
        "stac-item-3",
        "stac-item-2",
        "stac-item-1",
        "stac-item-0",  # no cloud cover: last
    ]
    body = {"sortby": [{"field": "properties.eo:cloud_cover", "direction": "asc"}], "limit": 2}
    first = _post(client, body).json
    assert [feature["id"] for feature in first["features"]] == ["stac-item-1", "stac-item-2"]
    second = _post(client, _link(first, "next")["body"]).json
    assert [feature["id"] for feature in second["features"]] == ["stac-item-3", "stac-item-4"]
    assert _ids(_get(client, "search", sortby="+datetime", limit=1)) == ["stac-item-0"]
    assert _ids(_get(client, "search", limit=1)) == ["stac-item-4"]  # newest first by default


def test_query_extension(client: Client) -> None:
    assert _ids(_post(client, {"query": {"eo:cloud_cover": {"lt": 20}}})) == ["stac-item-1"]
    got = _get(client, "search", query=json.dumps({"eo:cloud_cover": {"lt": 20}}))
    assert _ids(got) == ["stac-item-1"]
    # numbers given as text (as command-line clients send them) compare as numbers
    got = _post(client, {"query": {"eo:cloud_cover": {"neq": "10"}, "id": {"startsWith": "stac"}}})
    assert set(_ids(got)) == {"stac-item-2", "stac-item-3", "stac-item-4"}
    got = _post(client, {"query": {"eo:cloud_cover": {"gte": 10, "lte": 20}}})
    assert set(_ids(got)) == {"stac-item-1", "stac-item-2"}
    got = _post(client, {"query": {"id": {"in": ["stac-item-4", "x"]}}})
    assert _ids(got) == ["stac-item-4"]
    got = _post(client, {"query": {"instruments": {"in": ["msi", "sar"]}}})  # array property
    assert len(_ids(got)) == 5


def test_fields_extension(client: Client) -> None:
    got = _get(client, "search", fields="id,properties.eo:cloud_cover", ids="stac-item-1").json
    feature = got["features"][0]
    assert set(feature) == {"type", "stac_version", "id", "links", "properties"}
    assert feature["properties"] == {"eo:cloud_cover": 10.0}
    # an include of a part wins over an exclude of the whole
    got = _post(
        client,
        {
            "ids": ["stac-item-1"],
            "fields": {"include": ["properties.gsd"], "exclude": ["properties"]},
        },
    ).json
    assert got["features"][0]["properties"] == {"gsd": 0.05}
    got = _post(client, {"ids": ["stac-item-1"], "fields": {"exclude": ["assets", "links"]}}).json
    feature = got["features"][0]
    assert "assets" not in feature and "links" not in feature and feature["properties"]["platform"]
    for empty in ({}, {"include": [], "exclude": ["geometry"]}):
        got = _post(client, {"ids": ["stac-item-1"], "fields": empty}).json
        assert "geometry" not in got["features"][0] or not empty
        assert list(got["features"][0]["properties"]) == ["datetime"]
    got = _post(client, {"ids": ["stac-item-1"], "fields": {}}).json
    assert set(got["features"][0]) == {
        "type",
        "stac_version",
        "id",
        "geometry",
        "bbox",
        "links",
        "assets",
        "properties",
    }
    assert list(got["features"][0]["properties"]) == ["datetime"]
    assert _post(client, {"fields": None}).status_code == 400
    assert _post(client, {"fields": {"include": "id"}}).status_code == 400


# --- items ---------------------------------------------------------------------------


def test_item_projection_fields_match_the_file(client: Client) -> None:
    item = _get(client, f"collections/{COLLECTION}/items/stac-item-2").json
    asset = item["assets"]["data"]
    assert asset["proj:epsg"] == 4326
    assert asset["proj:shape"] == [20, 20]
    assert asset["proj:transform"] == pytest.approx([0.05, 0, 14.0, 0, -0.05, 60.0])
    assert asset["proj:bbox"] == pytest.approx([14.0, 59.0, 15.0, 60.0])
    assert (
        "https://stac-extensions.github.io/projection/v1.1.0/schema.json" in item["stac_extensions"]
    )
    # start and stop seconds apart: one acquisition, datetime is its start
    assert item["properties"]["datetime"] == "2023-05-03T10:30:00Z"
    assert item["properties"]["end_datetime"] == "2023-05-03T10:30:05Z"


# --- hostile input: 4xx with a reason, never a 500 -----------------------------------


def test_deeply_nested_filters_are_refused_but_long_chains_work(client: Client) -> None:
    deep_text = "NOT (" * 300 + "id = 'a'" + ")" * 300
    assert _get(client, "search", filter=deep_text).status_code == 400
    deep_json = (
        '{"op":"not","args":[' * 3000 + '{"op":"=","args":[{"property":"id"},"a"]}' + "]}" * 3000
    )
    response = client.post(
        "/search", data='{"filter":' + deep_json + "}", content_type="application/json"
    )
    assert response.status_code == 400
    chain = " OR ".join(f"id = 'stac-item-{index % 7}'" for index in range(2000))
    assert len(_ids(_get(client, "search", filter=chain))) == 5
    wide = {
        "op": "or",
        "args": [{"op": "=", "args": [{"property": "id"}, f"x{n}"]} for n in range(3000)],
    }
    assert _ids(_post(client, {"filter": wide})) == []


@pytest.mark.parametrize(
    "params",
    [
        {"token": "99999999999999999999999"},
        {"token": "-1"},
        {"bbox": "nan,nan,nan,nan"},
        {"intersects": '{"type": "Point", "coordinates": [1e400, 1]}'},
        {"filter": "foo(id) = 1"},
        {"filter": "eo:cloud_cover + 1 > 3"},
    ],
)
def test_hostile_parameters_are_400(client: Client, params: dict[str, str]) -> None:
    response = _get(client, "search", **params)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["detail"]


def test_filtered_paging_scans_in_batches_under_a_budget(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A judged search reads SQL rows in batches from its token; with a tiny batch and
    scan budget a page may come back short (even empty) but its next link goes on, and
    following the links yields every match exactly once."""
    from ogcsdl.stac import search

    monkeypatch.setattr(search, "BATCH", 2)
    monkeypatch.setattr(search, "SCAN_BUDGET", 2)
    seen: list[str] = []
    page = _get(
        client, "search", filter="eo:cloud_cover >= 20 OR eo:cloud_cover IS NULL", limit=1
    ).json
    for _ in range(20):
        assert page["numberReturned"] <= 1
        seen += [feature["id"] for feature in page["features"]]
        following = [link for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        href = following[0]["href"].removeprefix("http://example.test/stac")
        page = client.get(href).json
    assert sorted(seen) == ["stac-item-0", "stac-item-2", "stac-item-3", "stac-item-4"]
    assert len(seen) == len(set(seen))


def test_number_matched_is_exact_when_known(client: Client) -> None:
    page = _get(client, "search", filter="eo:cloud_cover >= 20").json
    assert page["numberMatched"] == 3 and page["numberReturned"] == 3
    page = _get(client, "search", filter="eo:cloud_cover >= 20", limit=1).json
    assert "numberMatched" not in page  # unknown without judging every record
    page = _get(client, "search", sortby="id", limit=1).json
    assert page["numberMatched"] == 5


def test_offline_guard_serves_vendored_schemas_and_refuses_the_rest() -> None:
    """What makes the stac-api-validator test offline (tests/stac_offline.py)."""
    import urllib.request

    import requests

    from tests.stac_offline import vendored_schemas

    item_schema = "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json"
    with vendored_schemas() as offline:
        assert requests.get(item_schema, timeout=5).json()["$id"] == item_schema
        with urllib.request.urlopen(
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
        ) as response:
            assert json.load(response)["title"]
        assert requests.get("https://geojson.org/schema/Nope.json", timeout=5).status_code == 404
        with pytest.raises(requests.ConnectionError):
            requests.get("http://192.0.2.1/", timeout=5)  # TEST-NET-1: never routed
    assert len(offline.served) == 2
    assert offline.missing == ["https://geojson.org/schema/Nope.json"]
    assert offline.refused == ["192.0.2.1:80"]


@pytest.mark.postgis
def test_search_extensions_on_postgis(postgis_url: str, tmp_path: Path) -> None:
    """The same searches over a real PostgreSQL/PostGIS product store (a database of its
    own: the session's is shared by other tests)."""
    with private_database(postgis_url, "stac") as database:
        _search_extensions(database, tmp_path)


def _search_extensions(database: str, tmp_path: Path) -> None:
    import dataclasses
    import uuid

    from ogcsdl.catalogue.store import ProductStore
    from ogcsdl.stac.app import StacApi

    collection = f"stac-pg-{uuid.uuid4().hex[:8]}"
    store = ProductStore(database)
    store.ensure_schema()
    for record in five_records(tmp_path):
        store.upsert(
            dataclasses.replace(
                record, identifier=f"{collection}-{record.identifier}", collection=collection
            )
        )
    settings = Settings(data_dir=tmp_path / "var", public_url="http://example.test")
    pg = Client(behind_edge(settings, "/stac", StacApi(settings, store)))
    ids = _ids(
        _get(
            pg,
            "search",
            collections=collection,
            filter="eo:cloud_cover >= 20",
            sortby="-eo:cloud_cover",
        )
    )
    assert ids == [f"{collection}-stac-item-{index}" for index in (4, 3, 2)]
    point = {"type": "Point", "coordinates": [10.2, 59.2]}
    assert _ids(_post(pg, {"collections": [collection], "intersects": point})) == [
        f"{collection}-stac-item-0"
    ]
    seen: list[str] = []
    page = _post(
        pg, {"collections": [collection], "query": {"eo:cloud_cover": {"gt": 5}}, "limit": 1}
    ).json
    while True:
        seen += [feature["id"] for feature in page["features"]]
        following = [link for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        page = _post(pg, following[0]["body"]).json
    assert sorted(seen) == [f"{collection}-stac-item-{index}" for index in (1, 2, 3, 4)]
