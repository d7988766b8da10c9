"""The conformance runner: all CSW/OpenSearch checks pass against the real suite, and
fail with reasons against a target that answers garbage."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from conformance.runner import REGISTRY, format_table, load_checks, run_checks
from ogcsdl.catalogue.factory import product_store
from tests.canary import serving
from tests.catalogue_fixtures import sample_products
from tests.cli_support import CliResult, run_cli
from tests.live import LiveSuite
from tests.ports import free_port
from tests.view_fixtures import make_s2_product


def _cli(*args: str) -> CliResult:
    return run_cli("conformance", *args)


def test_checks_are_registered_per_module() -> None:
    checks = load_checks()
    modules = {item.module for item in checks}
    assert modules == {
        "conformance.csw",
        "conformance.opensearch",
        "conformance.wmts",
        "conformance.wcs",
        "conformance.wps",
        "conformance.ogcapi_processes",
        "conformance.records",
    }
    assert len({(item.standard, item.name) for item in REGISTRY}) == len(REGISTRY)
    assert any(item.standard == "CSW 3.0" for item in checks)


@pytest.mark.live
def test_all_checks_pass_against_the_suite(suite: LiveSuite, tmp_path: Path) -> None:
    store = product_store(suite.settings)
    for record in sample_products():
        store.upsert(dataclasses.replace(record, identifier="CONF-" + record.identifier))
    # A real COG product, so the WMTS and WCS checks have something to exercise.
    store.upsert(make_s2_product(tmp_path, "conf-s2-cog", size=64))
    outcomes = run_checks(suite.base_url)
    table = format_table(outcomes)
    assert len(outcomes) >= 30, table
    assert all(outcome.result.status == "pass" for outcome in outcomes), table

    result = _cli(suite.base_url, "--only", "opensearch")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OpenSearch Geo 1.0" in result.stdout
    assert "CSW 2.0.2" not in result.stdout


class _Garbage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"this is not a catalogue <<<"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def garbage_url() -> Iterator[str]:
    with serving(_Garbage) as url:
        yield url


def test_checks_fail_with_reasons_against_garbage(garbage_url: str) -> None:
    outcomes = run_checks(garbage_url, timeout_s=5)
    assert outcomes
    table = format_table(outcomes)
    assert all(outcome.result.status == "fail" for outcome in outcomes), table
    assert all(outcome.result.reason for outcome in outcomes), table
    csw = [outcome for outcome in outcomes if outcome.check.module == "conformance.csw"]
    assert csw and all("not XML" in outcome.result.reason for outcome in csw), table

    result = _cli(garbage_url, "--only", "csw", "--timeout", "5")
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "PASS" not in result.stdout


def test_unreachable_target_fails_every_check() -> None:
    port = free_port()  # nothing listens on it
    outcomes = run_checks(f"http://127.0.0.1:{port}", only={"csw"}, timeout_s=2)
    assert outcomes and all(outcome.result.status == "fail" for outcome in outcomes)
    assert all("HTTP error" in outcome.result.reason for outcome in outcomes)
