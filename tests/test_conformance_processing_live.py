"""The processing conformance checks (driven by ``echo``) pass against the real suite,
called directly and as registered with the conformance runner (``ogcsdl conformance``)."""

from __future__ import annotations

import pytest
import requests

from conformance import ogcapi_processes, wps
from conformance.runner import load_checks
from tests.live import LiveSuite

pytestmark = pytest.mark.live


@pytest.mark.parametrize("check", wps.CHECKS, ids=lambda c: c.__name__)
def test_wps_conformance(processing_suite: LiveSuite, check: wps.Check) -> None:
    with requests.Session() as session:
        passed, reason = check(processing_suite.url("wps"), session)
    assert passed, reason


@pytest.mark.parametrize("check", ogcapi_processes.CHECKS, ids=lambda c: c.__name__)
def test_ogcapi_processes_conformance(
    processing_suite: LiveSuite, check: ogcapi_processes.Check
) -> None:
    with requests.Session() as session:
        passed, reason = check(processing_suite.url("ogcapi"), session)
    assert passed, reason


def test_registered_runner_checks_pass(processing_suite: LiveSuite) -> None:
    checks = load_checks(["conformance.wps", "conformance.ogcapi_processes"])
    assert {item.standard for item in checks} == {"WPS 1.0.0", "OGC API - Processes 1.0"}
    assert len(checks) == len(wps.CHECKS) + len(ogcapi_processes.CHECKS)
    with requests.Session() as session:
        results = [
            (item.name, item.function(processing_suite.base_url, session)) for item in checks
        ]
    assert [(name, r.reason) for name, r in results if r.status != "pass"] == []
