"""Harvesting a remote catalogue: a second ogcsdl instance on another loopback port
plays the remote archive with its own products; ours harvests it by CSW, OpenSearch and
STAC with ``ogcsdl harvest`` (the real CLI), and on a schedule while it serves."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from lxml import etree

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.cli import cli
from ogcsdl.harvest.model import default_name
from ogcsdl.harvest.runner import delete_source
from ogcsdl.harvest.state import HarvestState
from ogcsdl.security.keys import digest
from tests.canary import serving
from tests.catalogue_fixtures import NS, product, require_catalogue_env
from tests.cli_support import run_cli
from tests.live import LiveSuite, one_worker_each, run_suite

pytestmark = pytest.mark.live

OPTICAL = "sentinel-2-l1c"
RADAR = "sentinel-1-grd"  # harvested by the scheduled source only
PAGE_SIZE = 4  # small pages: every protocol pages through the remote's 9 optical products
# Our instance has access control on: CSW-T Harvest needs the admin role.
KEYS = {"root": ("ogk_r00t00_" + "r" * 43, "admin"), "alice": ("ogk_a11ce0_" + "a" * 43, "user")}


def remote_products() -> list[ProductRecord]:
    day = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    optical = [
        product(
            f"REMOTE-S2-{number:02d}",
            title=f"Remote Sentinel-2 scene {number}",
            platform="Sentinel-2A" if number % 2 else "Sentinel-2B",
            day=day + timedelta(days=3 * number),
            cloud_cover=float(number * 7 % 100),
            footprint=f"POLYGON(({10 + number} 55,{11 + number} 55,{11 + number} 56,{10 + number} 55))",
            bbox=(10.0 + number, 55.0, 11.0 + number, 56.0),
        )
        for number in range(9)
    ]
    radar = [
        product(
            f"REMOTE-S1-{number:02d}",
            title=f"Remote Sentinel-1 scene {number}",
            platform="Sentinel-1A",
            day=day + timedelta(days=5 * number),
            cloud_cover=None,
            footprint=f"POLYGON((15 {60 + number},16 {60 + number},16 {61 + number},15 {60 + number}))",
            bbox=(15.0, 60.0 + number, 16.0, 61.0 + number),
            collection=RADAR,
            instrument="C-SAR",
            sensor_type="RADAR",
            product_type="GRD",
            level="Level-1",
        )
        for number in range(2)
    ]
    return optical + radar


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSuite]:
    require_catalogue_env()
    # small pages: OAI-PMH needs resumption tokens for the remote's 11 products
    extra = one_worker_each({"catalogue": {"max_records": 4}})
    with run_suite(tmp_path_factory.mktemp("remote"), extra, stop_in_background=True) as live:
        store = product_store(live.settings)
        for record in remote_products():
            store.upsert(record)
        yield live


class _SlowPeer(BaseHTTPRequestHandler):
    """A federated catalogue that answers nothing for 60 s; records what it was sent."""

    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        _SlowPeer.received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        time.sleep(60)
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def slow_peer() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowPeer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/csw"
    server.shutdown()


@pytest.fixture(scope="module")
def ours(
    remote: LiveSuite, slow_peer: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSuite]:
    api_keys = [
        {"id": key.split("_")[1], "user": user, "role": role, "sha256": digest(key)}
        for user, (key, role) in KEYS.items()
    ]
    extra = one_worker_each(
        {
            "security": {"auth": {"api_keys": api_keys}},
            "catalogue": {
                "federated_catalogues": [remote.url("csw"), slow_peer],
                # The real peer must answer within it on a loaded machine (3 s was too
                # close: the whole search took 3.16 s in one CI run).
                "federation_timeout_s": 10,
            },
            "harvest": {
                "allowed_hosts": ["127.0.0.1"],
                "page_size": PAGE_SIZE,
                "timeout_s": 10,
                "sources": [
                    {
                        "name": "scheduled-radar",
                        "url": remote.url("stac"),
                        "protocol": "stac",
                        "collection": RADAR,
                        "interval_s": 3600,
                    }
                ],
            },
        }
    )
    with run_suite(tmp_path_factory.mktemp("ours"), extra, stop_in_background=True) as live:
        yield live


@dataclasses.dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def harvest_cli(suite: LiveSuite, *args: str) -> CliResult:
    """``ogcsdl harvest`` in-process (click's runner): the real command, without a
    new interpreter per call."""
    result = CliRunner().invoke(cli, ["--config", str(suite.config_file), "harvest", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


def source_url(remote: LiveSuite, protocol: str) -> str:
    if protocol == "csw":
        return remote.url("csw")
    if protocol == "opensearch":
        return remote.url("csw?mode=opensearch&service=CSW&version=3.0.0&request=GetCapabilities")
    return remote.url("stac")


def harvested(suite: LiveSuite, name: str) -> dict[str, ProductRecord]:
    store = product_store(suite.settings)
    return {
        identifier: store.get(identifier)
        for identifier in HarvestState(suite.settings.database_url).owned(name)
    }


def csw_ids_from_source(suite: LiveSuite, tag: str) -> set[str]:
    """Our CSW, queried on the source queryable (dc:source)."""
    constraint = (
        '<ogc:Filter xmlns:ogc="http://www.opengis.net/ogc"><ogc:PropertyIsEqualTo>'
        f"<ogc:PropertyName>dc:source</ogc:PropertyName><ogc:Literal>{tag}</ogc:Literal>"
        "</ogc:PropertyIsEqualTo></ogc:Filter>"
    )
    response = requests.get(
        suite.url("csw"),
        params={
            "service": "CSW",
            "version": "2.0.2",
            "request": "GetRecords",
            "typenames": "csw:Record",
            "elementsetname": "brief",
            "resulttype": "results",
            "maxrecords": "100",
            "constraintlanguage": "FILTER",
            "constraint_language_version": "1.1.0",
            "constraint": constraint,
        },
        timeout=20,
    )
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    return {node.text or "" for node in root.iterfind(".//dc:identifier", NS)}


def assert_same_product(ours: ProductRecord, theirs: ProductRecord, protocol: str) -> None:
    assert ours.title == theirs.title
    assert ours.collection == theirs.collection
    assert ours.start == theirs.start
    assert ours.end == theirs.end
    assert ours.bbox == pytest.approx(theirs.bbox)
    assert ours.cloud_cover == theirs.cloud_cover
    assert (ours.platform or "").lower() == (theirs.platform or "").lower()
    assert ours.product_type == theirs.product_type
    assert ours.processing_level == theirs.processing_level
    assert not ours.is_local and ours.file_path == ""
    hrefs = [asset["href"] for asset in ours.remote_assets]
    assert any(href.endswith(f"/data/{theirs.identifier}.tif") for href in hrefs), hrefs
    if protocol != "opensearch":  # Atom entries carry no band list
        assert ours.band_names == theirs.band_names


@pytest.mark.parametrize("protocol", ["csw", "opensearch", "stac"])
def test_harvest_by_protocol(remote: LiveSuite, ours: LiveSuite, protocol: str) -> None:
    name = f"remote-{protocol}"
    remote_store = product_store(remote.settings)
    expected = {record.identifier: record for record in remote_store.list(OPTICAL)}
    url = source_url(remote, protocol)

    first = harvest_cli(ours, url, "--protocol", protocol, "--name", name, "--collection", OPTICAL)
    assert first.returncode == 0, first.stderr + first.stdout
    assert f"{len(expected)} added, 0 updated" in first.stdout
    records = harvested(ours, name)
    assert set(records) == set(expected)
    for identifier, record in records.items():
        assert_same_product(record, expected[identifier], protocol)
        assert record.source == f"harvest:{name}"
    assert csw_ids_from_source(ours, f"harvest:{name}") == set(expected)

    # Visible with its remote link in our CSW (ISO) and STAC; not a tile or coverage.
    some = sorted(expected)[0]
    iso = requests.get(
        ours.url("csw"),
        params={
            "service": "CSW",
            "version": "2.0.2",
            "request": "GetRecordById",
            "id": some,
            "outputschema": "http://www.isotc211.org/2005/gmd",
            "elementsetname": "full",
        },
        timeout=20,
    )
    links = etree.fromstring(iso.content).xpath("//gmd:linkage/gmd:URL/text()", namespaces=NS)
    assert any(link.startswith(remote.base_url) for link in links), links
    item = requests.get(ours.url(f"stac/collections/{OPTICAL}/items/{some}"), timeout=20).json()
    assert item["assets"]["data"]["href"].startswith(remote.base_url)
    coverages = requests.get(
        ours.url("wcs"), params={"service": "WCS", "request": "GetCapabilities"}, timeout=60
    )
    assert coverages.status_code == 200 and some not in coverages.text

    again = harvest_cli(ours, url, "--protocol", protocol, "--name", name, "--collection", OPTICAL)
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 updated" in again.stdout

    # A record changed at the source is updated here, and only that one.
    changed = dataclasses.replace(
        expected[some],
        title=f"{expected[some].title} (reprocessed for {protocol})",
        cloud_cover=42.0,
        # Later than the record's current time by whole seconds (Atom and ISO dates have
        # second resolution): the previous protocol's run may have changed it < 1 s ago.
        updated=max(datetime.now(UTC), expected[some].updated) + timedelta(seconds=2),
    )
    remote_store.upsert(changed)
    third = harvest_cli(ours, url, "--protocol", protocol, "--name", name, "--collection", OPTICAL)
    assert third.returncode == 0, third.stderr
    assert "0 added, 1 updated" in third.stdout, third.stdout
    assert product_store(ours.settings).get(some).title == changed.title
    assert product_store(ours.settings).get(some).cloud_cover == 42.0

    gone = harvest_cli(ours, "--delete-source", name)
    assert gone.returncode == 0, gone.stderr
    assert f"its {len(expected)} record(s)" in gone.stdout
    assert harvested(ours, name) == {}
    assert csw_ids_from_source(ours, f"harvest:{name}") == set()
    assert HarvestState(ours.settings.database_url).get(name) is None


class _Garbage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        body = b"<html><body>Service temporarily <b>unavailable</body>"
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def garbage_url() -> Iterator[str]:
    with serving(_Garbage) as url:
        yield f"{url}/"


@pytest.mark.parametrize("protocol", ["csw", "opensearch", "stac"])
def test_garbage_source_leaves_catalogue_unharmed(
    remote: LiveSuite, ours: LiveSuite, garbage_url: str, protocol: str
) -> None:
    name = f"flaky-{protocol}"
    ok = harvest_cli(
        ours,
        source_url(remote, protocol),
        "--protocol",
        protocol,
        "--name",
        name,
        "--collection",
        OPTICAL,
    )
    assert ok.returncode == 0, ok.stderr
    before = harvested(ours, name)
    assert before

    failed = harvest_cli(ours, garbage_url, "--protocol", protocol, "--name", name)
    assert failed.returncode != 0
    assert "retry after" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert harvested(ours, name) == before
    state = HarvestState(ours.settings.database_url).get(name)
    assert state is not None and state.failures == 1 and state.next_attempt is not None
    first_delay = state.next_attempt - datetime.now(UTC)

    harvest_cli(ours, garbage_url, "--protocol", protocol, "--name", name)
    state = HarvestState(ours.settings.database_url).get(name)
    assert state is not None and state.failures == 2
    assert state.next_attempt is not None
    assert state.next_attempt - datetime.now(UTC) > first_delay  # backs off
    assert harvested(ours, name) == before

    assert harvest_cli(ours, "--delete-source", name).returncode == 0


def test_refuses_hosts_not_allowed(remote: LiveSuite, tmp_path: Path) -> None:
    """Without harvest.allowed_hosts, loopback sources are refused by the URL check."""
    config = tmp_path / "ogcsdl.yml"
    config.write_text(f"data_dir: {tmp_path / 'var'}\n", encoding="utf-8")
    result = run_cli("--config", str(config), "harvest", remote.url("stac"), "--protocol", "stac")
    assert result.returncode != 0
    assert "loopback" in result.stderr


def test_scheduled_source_runs_while_serving(remote: LiveSuite, ours: LiveSuite) -> None:
    expected = {record.identifier for record in product_store(remote.settings).list(RADAR)}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if set(harvested(ours, "scheduled-radar")) == expected:
            break
        time.sleep(1)
    assert set(harvested(ours, "scheduled-radar")) == expected, ours.log_tail()
    state = HarvestState(ours.settings.database_url).get("scheduled-radar")
    assert state is not None and state.last_success is not None
    assert state.next_attempt is not None and state.next_attempt > datetime.now(UTC)


def oai_pass(remote: LiveSuite, verb: str, **selection: str) -> list[str]:
    """What a broker does: follow resumption tokens until the list ends."""
    params = {"mode": "oaipmh", "verb": verb, "metadataPrefix": "iso19139", **selection}
    seen: list[str] = []
    for _ in range(50):
        response = requests.get(remote.url("csw"), params=params, timeout=20)
        assert response.status_code == 200, response.text
        root = etree.fromstring(response.content)
        listing = root.find(f"oai:{verb}", NS)
        assert listing is not None, response.text[:2000]
        seen += [node.text or "" for node in listing.iterfind(".//oai:header/oai:identifier", NS)]
        token = listing.find("oai:resumptionToken", NS)
        if token is None or not (token.text or "").strip():
            return seen
        assert int(token.get("cursor", "-1")) == len(seen) - len(
            listing.findall(".//oai:header", NS)
        )
        params = {"mode": "oaipmh", "verb": verb, "resumptionToken": token.text.strip()}
    raise AssertionError(f"the resumption tokens never ended: {seen}")


@pytest.mark.parametrize("verb", ["ListIdentifiers", "ListRecords"])
def test_oai_pmh_broker_pass_returns_every_record_once(remote: LiveSuite, verb: str) -> None:
    remote_ids = {r.identifier for r in product_store(remote.settings).list()}
    seen = oai_pass(remote, verb)
    assert len(seen) == len(set(seen)), seen
    assert set(seen) == remote_ids
    forged = requests.get(
        remote.url("csw"),
        params={"mode": "oaipmh", "verb": verb, "resumptionToken": "5"},
        timeout=20,
    )
    assert b'code="badResumptionToken"' in forged.content
    if verb == "ListRecords":
        record = requests.get(
            remote.url("csw"),
            params={
                "mode": "oaipmh",
                "verb": "GetRecord",
                "identifier": sorted(remote_ids)[0],
                "metadataPrefix": "iso19139",
            },
            timeout=20,
        )
        assert sorted(remote_ids)[0].encode() in record.content


def test_oai_pmh_from_until_select_by_datestamp(remote: LiveSuite) -> None:
    store = product_store(remote.settings)
    newest = max(r.updated for r in store.list())
    moved = dataclasses.replace(store.list(RADAR)[0], updated=newest + timedelta(hours=1))
    store.upsert(moved)
    middle = (newest + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert oai_pass(remote, "ListIdentifiers", **{"from": middle}) == [moved.identifier]
    before = oai_pass(remote, "ListIdentifiers", until=middle)
    assert moved.identifier not in before
    assert set(before) == {r.identifier for r in store.list()} - {moved.identifier}


def distributed_search(suite: LiveSuite, hops: int) -> tuple[set[str], str, float]:
    body = f"""<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2"
        xmlns:ogc="http://www.opengis.net/ogc" service="CSW" version="2.0.2"
        resultType="results" maxRecords="50">
      <csw:DistributedSearch hopCount="{hops}"/>
      <csw:Query typeNames="csw:Record"><csw:ElementSetName>brief</csw:ElementSetName>
        <csw:Constraint version="1.1.0"><ogc:Filter><ogc:PropertyIsLike wildCard="*"
          singleChar="?" escapeChar="\\"><ogc:PropertyName>dc:title</ogc:PropertyName>
          <ogc:Literal>*scene*</ogc:Literal></ogc:PropertyIsLike></ogc:Filter>
        </csw:Constraint></csw:Query></csw:GetRecords>"""
    started = time.monotonic()
    response = requests.post(
        suite.url("csw"), data=body, headers={"Content-Type": "application/xml"}, timeout=60
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    ids = {node.text or "" for node in root.iterfind(".//dc:identifier", NS)}
    return ids, response.text, elapsed


def test_distributed_search_merges_peers_and_respects_hop_count(
    remote: LiveSuite, ours: LiveSuite
) -> None:
    local = dataclasses.replace(remote_products()[0], identifier="OURS-S2-LOCAL")
    local = dataclasses.replace(local, title="Our own scene")
    product_store(ours.settings).upsert(local)
    # optical products: the scheduled source harvests only the radar ones into ours
    remote_ids = {r.identifier for r in product_store(remote.settings).list(OPTICAL)}

    alone, _, _ = distributed_search(ours, hops=1)  # this catalogue only
    assert "OURS-S2-LOCAL" in alone and not alone & remote_ids

    _SlowPeer.received.clear()
    merged, text, elapsed = distributed_search(ours, hops=2)
    assert alone <= merged
    # the peer answers its first page (its max_records is 4) and its match count
    remote_count = len(product_store(remote.settings).list())
    all_remote = {r.identifier for r in product_store(remote.settings).list()}
    assert merged - alone and merged - alone <= all_remote, text[:3000]
    matched = etree.fromstring(text.encode()).find(".//csw:SearchResults", NS)
    assert matched is not None
    assert int(matched.get("numberOfRecordsMatched", "0")) == len(alone) + remote_count
    assert elapsed < 45  # the slow peer (60 s) was cut off by federation_timeout_s
    assert "returned error" in text  # and its absence is noted in the answer
    forwarded = _SlowPeer.received[-1]
    assert b'hopCount="1"' in forwarded  # 2 -> 1: the peer answers, forwards no further
    product_store(ours.settings).delete("OURS-S2-LOCAL")


DELETIONS = "sentinel-2-l2a"  # a collection of its own: the other tests never see it


@pytest.mark.parametrize("protocol", ["csw", "opensearch", "stac"])
def test_a_record_deleted_at_the_source_goes_on_a_full_run(
    remote: LiveSuite, ours: LiveSuite, protocol: str
) -> None:
    name = f"deletions-{protocol}"
    remote_store = product_store(remote.settings)
    template = remote_products()[0]
    mine = [
        dataclasses.replace(
            template,
            identifier=f"GONE-{protocol}-{n}",
            title=f"L2A {n}",
            collection=DELETIONS,
            updated=datetime(2024, 7, 1, tzinfo=UTC) + timedelta(seconds=n),
        )
        for n in range(5)
    ]
    remote_store.upsert_many(mine)
    url = source_url(remote, protocol)
    args = [url, "--protocol", protocol, "--name", name, "--collection", DELETIONS]
    try:
        assert "5 added" in harvest_cli(ours, *args).stdout
        remote_store.delete(mine[0].identifier)

        # The incremental run selects by modification date (CSW apiso:Modified, STAC
        # Filter extension on ``updated``, OpenSearch eo:modificationDate), which
        # cannot show a deletion; a full run lists the whole source.
        plain = harvest_cli(ours, *args)
        assert plain.returncode == 0 and "0 added, 0 updated" in plain.stdout, plain.stdout
        # only the newest record (at the high-water mark) came back
        assert "1 unchanged, 0 deleted" in plain.stdout, plain.stdout

        full = harvest_cli(ours, *args, "--full")
        assert full.returncode == 0, full.stdout + full.stderr
        assert "1 deleted" in full.stdout, full.stdout + full.stderr
        expected = {record.identifier for record in mine[1:]}
        assert set(harvested(ours, name)) == expected
        assert csw_ids_from_source(ours, f"harvest:{name}") == expected  # the projection too
        assert mine[0].identifier not in {
            r.identifier for r in product_store(ours.settings).list(include_remote=True)
        }
    finally:
        remote_store.delete_many([record.identifier for record in mine])
        harvest_cli(ours, "--delete-source", name)


class _EmptyCsw(BaseHTTPRequestHandler):
    """A CSW in trouble: a well-formed GetRecords answer with no records at all."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = (
            b'<csw:GetRecordsResponse xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" '
            b'version="2.0.2"><csw:SearchStatus timestamp="2024-06-01T00:00:00Z"/>'
            b'<csw:SearchResults numberOfRecordsMatched="0" numberOfRecordsReturned="0" '
            b'nextRecord="0" recordSchema="http://www.isotc211.org/2005/gmd" '
            b'elementSet="brief"/></csw:GetRecordsResponse>'
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_source_answering_no_records_deletes_nothing(remote: LiveSuite, ours: LiveSuite) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmptyCsw)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = "outage-csw"
    try:
        args = ["--protocol", "csw", "--name", name, "--collection", OPTICAL]
        assert harvest_cli(ours, remote.url("csw"), *args).returncode == 0
        before = harvested(ours, name)
        assert len(before) == 9
        empty = f"http://127.0.0.1:{server.server_address[1]}/csw"
        outage = harvest_cli(ours, empty, *args, "--full")
        assert outage.returncode == 0, outage.stderr
        assert "0 deleted" in outage.stdout
        assert "no longer lists 9 of our 9" in outage.stderr
        assert harvested(ours, name) == before
        assert csw_ids_from_source(ours, f"harvest:{name}") == set(before)
    finally:
        server.shutdown()
        harvest_cli(ours, "--delete-source", name)


CSW_TYPE = "http://www.opengis.net/cat/csw/2.0.2"


def test_csw_t_harvest_needs_the_admin_credential(remote: LiveSuite, ours: LiveSuite) -> None:
    body = (
        f'<csw:Harvest xmlns:csw="{CSW_TYPE}" service="CSW" version="2.0.2">'
        f"<csw:Source>{remote.url('csw')}</csw:Source>"
        f"<csw:ResourceType>{CSW_TYPE}</csw:ResourceType></csw:Harvest>"
    )
    headers = {"Content-Type": "application/xml"}
    anonymous = requests.post(ours.url("csw"), data=body, headers=headers, timeout=20)
    user = requests.post(
        ours.url("csw"),
        data=body,
        headers={**headers, "Authorization": f"Bearer {KEYS['alice'][0]}"},
        timeout=20,
    )
    for answer, status in ((anonymous, 401), (user, 403)):
        assert answer.status_code == status, answer.text
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        root = etree.fromstring(answer.content)
        assert etree.QName(root).localname == "ExceptionReport", answer.text
    assert (
        HarvestState(ours.settings.database_url).get(default_name(remote.url("csw"), "csw")) is None
    )  # nothing ran


def test_owslib_harvests_the_remote_through_csw_t(remote: LiveSuite, ours: LiveSuite) -> None:
    """A real CSW-T client: OWSLib's CatalogueServiceWeb.harvest with the admin key."""
    from owslib.catalogue.csw2 import CatalogueServiceWeb

    from conformance.xmlcheck import schema

    source = remote.url("csw")
    name = default_name(source, "csw")
    held = {r.identifier for r in product_store(ours.settings).list(include_remote=True)}
    expected = {r.identifier for r in product_store(remote.settings).list()} - held
    assert expected
    csw = CatalogueServiceWeb(
        ours.url("csw"),
        skip_caps=True,
        timeout=120,
        headers={"Authorization": f"Bearer {KEYS['root'][0]}"},
    )
    try:
        csw.harvest(source=source, resourcetype=CSW_TYPE)
        assert csw.results["inserted"] == len(expected), csw.response[:2000]
        assert set(csw.results["insertresults"]) == expected
        assert (csw.results["updated"], csw.results["deleted"]) == (0, 0)
        xsd = schema("csw202-publication")
        assert xsd.validate(etree.fromstring(csw.response)), xsd.error_log.last_error

        # Through the product store and its projection: in our CSW under the source.
        assert set(harvested(ours, name)) == expected
        assert csw_ids_from_source(ours, f"harvest:{name}") == expected

        again = CatalogueServiceWeb(
            ours.url("csw"),
            skip_caps=True,
            timeout=120,
            headers={"Authorization": f"Bearer {KEYS['root'][0]}"},
        )
        again.harvest(source=source, resourcetype=CSW_TYPE)
        assert again.results["inserted"] == 0 and "insertresults" in again.results
    finally:
        if HarvestState(ours.settings.database_url).get(name):
            delete_source(ours.settings, name)
