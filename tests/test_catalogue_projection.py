"""The pycsw projection without a running pycsw: the ISO document is valid ISO 19139,
the generated pycsw.cfg says what the suite needs, the records table is created by pycsw
itself and back-filled, a failing projection rolls the product back, and a broken
repository is a 503 + an unhealthy catalogue."""

from __future__ import annotations

import configparser
from dataclasses import replace
from pathlib import Path

import pytest
import requests
import yaml
from lxml import etree

from conformance.xmlcheck import schema
from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.iso19139 import (
    NS,
    MetadataContact,
    OnlineLink,
    anytext,
    iso_document,
    iso_text,
)
from ogcsdl.catalogue.projection import (
    RECORDS_TABLE,
    online_links,
    records_row,
    records_table_exists,
)
from ogcsdl.catalogue.pycsw_setup import pycsw_config_text
from ogcsdl.catalogue.record import Band
from ogcsdl.catalogue.service import catalogue_child, check_catalogue, prepare_catalogue
from ogcsdl.config import Settings, load_settings
from ogcsdl.db import connect
from ogcsdl.errors import ServiceUnavailable
from ogcsdl.schema import create_schema
from tests.catalogue_fixtures import (
    CATALOGUE_PYTHON,
    require_catalogue_env,
    running_child,
    sample_products,
)
from tests.ports import free_port


def _settings(directory: Path, python: Path = CATALOGUE_PYTHON, **extra: object) -> Settings:
    config = {"data_dir": str(directory), "catalogue": {"python": str(python)}, **extra}
    path = directory / "ogcsdl.yml"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    settings = load_settings(path)
    create_schema(settings)
    return settings


def test_iso_document_is_valid_iso19139() -> None:
    require_catalogue_env()
    contact = MetadataContact("Space Data Lab", "Operator", "op@example.org")
    for record in sample_products():
        document = etree.fromstring(
            iso_document(record, [OnlineLink("http://example.org/x.tif", "x.tif", "COG")], contact)
        )
        xsd = schema("gmd")
        assert xsd.validate(document), (record.identifier, xsd.error_log.last_error)


def test_records_link_the_products_services(tmp_path: Path) -> None:
    """QGIS MetaSearch adds a layer from a record's OGC:WMS/WMTS/WCS links."""
    require_catalogue_env()
    settings = _settings(tmp_path, public_url="https://eo.example.org/suite")
    record = sample_products()[0]
    links = online_links(settings, record)
    assert [link.protocol for link in links] == [
        "WWW:DOWNLOAD-1.0-http--download",
        "OGC:WMS",
        "OGC:WMTS",
        "OGC:WCS",
    ]
    assert all(link.url.startswith("https://eo.example.org/suite/") for link in links)
    assert {link.name for link in links[1:]} == {record.identifier}
    row = records_row(settings, record)
    assert "OGC:WMS,https://eo.example.org/suite/maps/service" in row["links"]
    contact = MetadataContact("Space Data Lab", "Operator", "op@example.org")
    document = etree.fromstring(iso_document(record, links, contact))
    assert schema("gmd").validate(document)
    protocols = [
        node.text for node in document.iter("{http://www.isotc211.org/2005/gco}CharacterString")
    ]
    assert "OGC:WCS" in protocols and "OGC:WMTS" in protocols


def test_pycsw_config_from_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path, public_url="https://eo.example.org/suite")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(pycsw_config_text(settings))
    assert parser["server"]["url"] == "https://eo.example.org/suite/csw"
    assert parser["server"]["profiles"] == "apiso"
    assert not parser.has_option("server", "gzip_compresslevel")
    assert parser["manager"]["transactions"] == "false"
    assert parser["repository"]["database"] == f"sqlite:///{tmp_path / 'ogcsdl.db'}"
    assert Path(parser["repository"]["mappings"]).is_file()
    assert parser["metadata:main"]["identification_title"] == settings.catalogue.title
    direct = configparser.ConfigParser(interpolation=None)
    direct.read_string(pycsw_config_text(settings, "http://127.0.0.1:9999/"))
    assert direct["server"]["url"] == "http://127.0.0.1:9999/"


def test_records_table_is_created_by_pycsw_and_back_filled(tmp_path: Path) -> None:
    require_catalogue_env()
    # Products stored before the catalogue ever started: no projection yet.
    settings = _settings(tmp_path)
    store = product_store(settings)
    for record in sample_products()[:3]:
        store.upsert(record)
    assert not records_table_exists(settings.database_url)
    prepare_catalogue(settings)  # creates the table (pycsw's setup_db) and back-fills
    assert records_table_exists(settings.database_url)
    store.upsert(sample_products()[3])
    with connect(settings.database_url) as conn:
        rows = conn.query(
            f"SELECT identifier, platform, cloudcover FROM {RECORDS_TABLE} ORDER BY identifier"
        )
    assert [row[0] for row in rows] == sorted(r.identifier for r in sample_products()[:4])
    assert ("S2A-GBG-0715", "Sentinel-2A", 12.0) in rows


def test_a_failing_projection_rolls_the_product_back(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    store = product_store(settings)
    with connect(settings.database_url) as conn:  # a records table pycsw did not make
        conn.execute(f"CREATE TABLE {RECORDS_TABLE} (identifier TEXT PRIMARY KEY)")
    with pytest.raises(Exception, match="platform|column"):
        store.upsert(sample_products()[0])
    assert store.list() == []


def test_a_broken_repository_is_a_503_and_unhealthy(tmp_path: Path) -> None:
    """When pycsw cannot open its database, clients get an ExceptionReport with 503 (not
    the 200/400 pycsw sends) and the health check reports the catalogue down."""
    require_catalogue_env()
    port = free_port()
    settings = _settings(tmp_path, catalogue={"python": str(CATALOGUE_PYTHON), "port": port})
    spec = catalogue_child(settings, server_url=f"http://127.0.0.1:{port}/")
    with running_child(spec, tmp_path / "pycsw.log"):
        check_catalogue(settings)  # healthy
        config = settings.generated_dir / "pycsw.cfg"  # pycsw re-reads it per request
        broken = tmp_path / "missing-dir" / "nothing.db"
        config.write_text(
            config.read_text().replace(str(tmp_path / "ogcsdl.db"), str(broken)), encoding="utf-8"
        )
        response = requests.get(spec.ready_url or "", timeout=10)
        assert response.status_code == 503
        assert b"ExceptionReport" in response.content
        with pytest.raises(ServiceUnavailable, match="503"):
            check_catalogue(settings)


def test_iso_text_is_written_as_lxml_pretty_prints_it_with_its_texts() -> None:
    """The document is written as text in one pass (no tree per record): it must be the
    document lxml prints (same elements, escaping and indentation), empty elements
    included, and its ``anytext`` must be every text in it, in order."""
    contact = MetadataContact("Lab & Co", "Operator <ops>", 'op"x"@example.org')
    base = sample_products()[0]
    odd = replace(
        base,
        title='A & B <c> "q"\ttab',
        abstract="  spaced\n",
        bands=[Band("B1", "Red & near"), Band("B2")],
        keywords=["k1", "k1"],
        crs="OGC:CRS84",  # no EPSG code: no referenceSystemInfo
        cloud_cover=None,
        processing_level=None,
    )
    for record, links in (
        (base, [OnlineLink("http://example.org/x.tif?a=1&b=2", "x.tif", "COG")]),
        (odd, []),  # no links: an empty MD_DigitalTransferOptions
    ):
        written = iso_text(record, links, contact)
        root = etree.fromstring(written.xml.encode("utf-8"))
        assert etree.tostring(root, pretty_print=True, encoding="unicode") == written.xml
        assert written.anytext == anytext(written.xml.encode("utf-8"))
        assert root.findtext(".//gmd:citation//gmd:title/gco:CharacterString", namespaces=NS) == (
            record.title
        )
    assert root.find(".//gmd:MD_DigitalTransferOptions", NS) is not None
    assert len(root.find(".//gmd:MD_DigitalTransferOptions", NS)) == 0
    assert root.find(".//gmd:referenceSystemInfo", NS) is None
    assert [
        band.text for band in root.iterfind(".//gmd:MD_Band//gco:aName/gco:CharacterString", NS)
    ][::2] == ["B1", "B2"]
    with pytest.raises(ValueError, match="XML compatible"):
        iso_text(replace(base, title="bad \x01 byte"), [], contact)


def test_iso_text_parts_written_once_follow_their_contact_and_values() -> None:
    """Contacts and thesaurus keyword blocks are written once and then copied: a copy
    must be the one of that contact / value, never another record's."""
    base = sample_products()[0]
    first = iso_text(base, [], MetadataContact("Org A", "Name One", "one@example.org"))
    other = replace(base, platform="Other-Sat")
    second = iso_text(other, [], MetadataContact("Org B", "Name Two", "two@example.org"))
    assert "Name One" in first.xml and "Name Two" not in first.xml
    assert "Name Two" in second.xml and "Name One" not in second.xml
    assert "Other-Sat" in second.xml and "Other-Sat" in second.anytext
    assert "Other-Sat" not in first.xml
    root = etree.fromstring(second.xml.encode("utf-8"))
    assert etree.tostring(root, pretty_print=True, encoding="unicode") == second.xml
    assert second.anytext == anytext(second.xml.encode("utf-8"))
    assert iso_text(base, [], MetadataContact("Org A", "Name One", "one@example.org")) == first
