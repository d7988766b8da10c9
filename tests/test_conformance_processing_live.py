"""The processing conformance checks (driven by ``echo``) pass against the real suite."""

from __future__ import annotations

import pytest
import requests

from conformance import ogcapi_processes, wps
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
