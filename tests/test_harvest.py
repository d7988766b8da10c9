"""Harvest pieces without servers: OpenSearch templates and Atom entries, STAC items,
harvested records in the store (kept out of tiles/WCS/processes), pages written all
or nothing, backoff state. The live round trip is in ``test_harvest_live.py``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from conformance.xmlcheck import schema
from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.iso19139 import GMD_SCHEMA as GMD
from ogcsdl.catalogue.iso19139 import MetadataContact, iso_document
from ogcsdl.catalogue.projection import online_links
from ogcsdl.catalogue.pycsw_setup import WSGI_DIR
from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.db import Connection
from ogcsdl.errors import InvalidParameterValue
from ogcsdl.harvest.model import HarvestSource, RejectedEntry
from ogcsdl.harvest.opensearch import atom_record, fill_template
from ogcsdl.harvest.runner import delete_source
from ogcsdl.harvest.stac import stac_record
from ogcsdl.harvest.state import HarvestState
from ogcsdl.jobs.inputs import resolve_inputs
from ogcsdl.jobs.registry import load
from ogcsdl.schema import create_schema
from tests.catalogue_fixtures import require_catalogue_env
from tests.harvest_support import scripted_record
from tests.processing_support import processing_settings, tiny_product

SOURCE = HarvestSource("peer", "http://peer.example/csw", "opensearch")


def test_template_is_filled_and_empty_parameters_dropped() -> None:
    template = (
        "http://peer.example/csw?mode=opensearch&outputformat=application/atom%2Bxml"
        "&q={searchTerms?}&bbox={geo:box?}&time={time:start?}/{time:end?}"
        "&startposition={startIndex?}&maxrecords={count?}&eo:parentIdentifier={eo:parentIdentifier?}"
    )
    url = fill_template(
        template, {"startIndex": "5", "count": "4", "eo:parentIdentifier": "s2 l1c&x"}
    )
    assert url == (
        "http://peer.example/csw?mode=opensearch&outputformat=application/atom%2Bxml"
        "&startposition=5&maxrecords=4&eo:parentIdentifier=s2%20l1c%26x"
    )


ENTRY = b"""<entry xmlns="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:georss="http://www.georss.org/georss"
  xmlns:eo="http://a9.com/-/opensearch/extensions/eo/1.0/">
  <id>urn:x:S2A-1</id><dc:identifier>S2A-1</dc:identifier><title>A scene</title>
  <updated>2024-06-02T00:00:00Z</updated>
  <dc:date>2024-06-01T10:00:00Z/2024-06-01T10:01:00Z</dc:date>
  <georss:polygon>59 17 59 18 60 18 59 17</georss:polygon>
  <category term="eo:productType:S2MSI1C"/>
  <eo:platform>Sentinel-2A</eo:platform><eo:cloudCover>12.5</eo:cloudCover>
  <eo:parentIdentifier>sentinel-2-l1c</eo:parentIdentifier>
  <link rel="enclosure" href="https://peer.example/S2A-1.tif" type="image/tiff"/>
  <link href="https://peer.example/about"/>
</entry>"""


def test_atom_entry_becomes_a_remote_record() -> None:
    record = atom_record(SOURCE, etree.fromstring(ENTRY))
    assert record.identifier == "S2A-1" and record.collection == "sentinel-2-l1c"
    assert record.start == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert record.end == datetime(2024, 6, 1, 10, 1, tzinfo=UTC)
    assert record.bbox == (17.0, 59.0, 18.0, 60.0)  # GeoRSS is lat lon; ours lon/lat
    assert record.platform == "Sentinel-2A" and record.cloud_cover == 12.5
    assert record.product_type == "S2MSI1C"
    assert [asset["href"] for asset in record.remote_assets] == ["https://peer.example/S2A-1.tif"]
    assert not record.is_local and record.source == "harvest:peer"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<dc:date>2024-06-01T10:00:00Z/2024-06-01T10:01:00Z</dc:date>", b""),
        (b"59 17 59 18 60 18 59 17", b"north of nowhere"),
        (b"<updated>2024-06-02T00:00:00Z</updated>", b"<updated>yesterday</updated>"),
    ],
)
def test_atom_entries_without_what_a_record_needs_are_rejected(old: bytes, new: bytes) -> None:
    with pytest.raises(RejectedEntry):
        atom_record(SOURCE, etree.fromstring(ENTRY.replace(old, new)))


def test_stac_item_becomes_a_remote_record() -> None:
    item = {
        "type": "Feature",
        "id": "S1A-9",
        "collection": "sentinel-1-grd",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[15, 60], [16, 60], [16, 61], [15, 60]]],
        },
        "bbox": [15, 60, 16, 61],
        "properties": {
            "datetime": "2024-05-01T05:00:00Z",
            "updated": "2024-05-02T00:00:00Z",
            "platform": "sentinel-1a",
            "proj:epsg": 32633,
            "gsd": 10,
        },
        "assets": {"data": {"href": "https://peer.example/S1A-9.tif", "eo:bands": []}},
    }
    record = stac_record(SOURCE, item)
    assert record.crs == "EPSG:32633" and record.resolution == (10.0, 10.0)
    assert record.footprint_wkt.startswith("POLYGON ((15 60")
    with pytest.raises(RejectedEntry):
        stac_record(SOURCE, {**item, "geometry": None, "bbox": None})
    with pytest.raises(RejectedEntry):
        stac_record(SOURCE, {**item, "bbox": [15, 60, 16, 610]})


def _remote(identifier: str) -> ProductRecord:
    return scripted_record(SOURCE, identifier)  # its data at https://peer.example/<id>.tif


def test_harvested_records_stay_out_of_local_views_and_processes(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path / "var")
    store = product_store(settings)
    local = tiny_product(settings, "LOCAL-1")
    store.upsert(local)
    store.upsert_many([_remote("REMOTE-1")])
    assert [r.identifier for r in store.list()] == ["LOCAL-1"]  # tiles, WCS, seeding
    assert {r.identifier for r in store.list(include_remote=True)} == {"LOCAL-1", "REMOTE-1"}

    registry = load(settings)
    description = registry.get("scale").description
    with pytest.raises(InvalidParameterValue, match="https://peer.example/REMOTE-1.tif"):
        resolve_inputs(registry, description, {"image": "REMOTE-1"}, settings, tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str | None]:
    if request.param == "sqlite":
        return {"url": None}
    return {"url": request.getfixturevalue("postgis_url")}


def test_a_failing_page_writes_nothing_and_delete_removes_only_the_source(
    tmp_path: Path, database: dict[str, str | None]
) -> None:
    settings = Settings(data_dir=tmp_path / "var", database=database)
    settings.ensure_dirs()
    create_schema(settings)
    mine = {"REMOTE-1", "REMOTE-2", "REMOTE-3"}
    store = product_store(settings)
    state = HarvestState(settings.database_url)
    if state.get(SOURCE.name):  # the PostGIS database is shared by the session
        delete_source(settings, SOURCE.name)
    store.delete_many(sorted(mine))
    state.register(SOURCE)

    def own(conn: Connection) -> None:
        state.own(conn, SOURCE.name, [_remote("REMOTE-1")])

    store.upsert_many([_remote("REMOTE-1")], also=own)

    def fail(_conn: Connection) -> None:
        raise RuntimeError("disk full in the middle of a page")

    with pytest.raises(RuntimeError):
        store.upsert_many([_remote("REMOTE-2"), _remote("REMOTE-3")], also=fail)
    assert {r.identifier for r in store.list(include_remote=True)} & mine == {"REMOTE-1"}

    first = state.mark_failure(SOURCE.name, "down", settings.harvest)
    second = state.mark_failure(SOURCE.name, "down", settings.harvest)
    assert second - first >= (first - datetime.now(UTC)) * 0.9  # the delay doubles
    row = state.get(SOURCE.name)
    assert row is not None and row.failures == 2 and row.records == 1

    assert delete_source(settings, SOURCE.name) == 1
    assert not {r.identifier for r in store.list(include_remote=True)} & mine
    assert state.get(SOURCE.name) is None


def test_distributed_search_forwards_one_hop_less(monkeypatch: pytest.MonkeyPatch) -> None:
    # imported as pycsw's gunicorn imports it: the pycsw_side folder is on the path
    monkeypatch.syspath_prepend(str(WSGI_DIR))
    from pycsw_federation import one_hop_less  # type: ignore[import-not-found]

    def forwarded(hops: str) -> bytes:
        attribute = f' hopCount="{hops}"' if hops else ""
        request = (
            '<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" service="CSW" '
            f'version="2.0.2"><csw:DistributedSearch{attribute}/><csw:Query typeNames="csw:Record"/>'
            "</csw:GetRecords>"
        )
        return one_hop_less(request.encode())

    assert b'hopCount="2"' in forwarded("3")
    assert b'hopCount="1"' in forwarded("")  # CSW 2.0.2 default 2
    assert b"DistributedSearch" not in forwarded("1")
    assert b"DistributedSearch" not in forwarded("many")
    assert b"csw:Query" in forwarded("1")


def test_harvested_record_iso_document_is_valid_and_links_the_source(tmp_path: Path) -> None:
    require_catalogue_env()
    record = _remote("REMOTE-ISO")
    record.extra["remote_assets"].append(
        {"href": "https://peer.example/REMOTE-ISO.xml", "type": "application/xml"}
    )
    contact = MetadataContact("Space Data Lab", "Operator", "op@example.org")
    document = etree.fromstring(
        iso_document(record, online_links(Settings(data_dir=tmp_path), record), contact)
    )
    xsd = schema("gmd")
    assert xsd.validate(document), xsd.error_log.last_error
    links = document.xpath("//gmd:linkage/gmd:URL/text()", namespaces={"gmd": GMD})
    assert links == ["https://peer.example/REMOTE-ISO.tif", "https://peer.example/REMOTE-ISO.xml"]
