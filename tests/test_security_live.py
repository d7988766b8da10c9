"""Access control on the live suite with real clients: OWSLib's WPS client and plain
requests send ``Authorization: Bearer <key>``; each user sees, reads and dismisses only
their own jobs (WPS status documents included); an admin sees all; the concurrent-jobs
quota answers 429 with Retry-After. The suite runs on PostGIS (``secured_suite``)."""

from __future__ import annotations

import pytest
import requests
from owslib.wps import WebProcessingService

from tests.live import LiveSuite
from tests.processing_support import wait_for
from tests.secured import bearer

pytestmark = pytest.mark.live


def test_owslib_wps_with_a_key_and_owner_only_status(secured_suite: LiveSuite) -> None:
    anonymous = WebProcessingService(secured_suite.url("wps"), skip_caps=True)
    with pytest.raises(Exception, match="401|NotAuthenticated|credential"):
        anonymous.execute("echo", inputs=[("stringInput", "x")], mode="sync")
    wps = WebProcessingService(secured_suite.url("wps"), skip_caps=True, headers=bearer("alice"))
    execution = wps.execute(
        "echo", inputs=[("stringInput", "hello")], output=[("stringOutput", False)], mode="async"
    )
    status = execution.statusLocation
    try:
        wait_for(
            lambda: (execution.checkStatus(sleepSecs=0) or True) and execution.isComplete(), 60
        )
    except AssertionError:  # seen twice under load: say what the client was reading
        seen = requests.get(status, headers=bearer("alice"), timeout=30)
        raise AssertionError(
            f"status {status} never complete: HTTP {seen.status_code} {seen.text[:600]}\n"
            + secured_suite.log_tail(80)
        ) from None
    assert execution.isSucceded(), execution.errors
    assert execution.processOutputs[0].data == ["hello"]
    job_id = status.rsplit("/", 1)[-1].removesuffix(".xml")
    assert requests.get(status, headers=bearer("bob"), timeout=30).status_code == 404
    assert requests.get(status, headers=bearer("root"), timeout=30).status_code == 200
    assert requests.get(status, timeout=30).status_code == 401
    job = requests.get(
        secured_suite.url(f"ogcapi/jobs/{job_id}"), headers=bearer("alice"), timeout=30
    )
    assert job.status_code == 200 and job.json()["status"] == "successful"


def test_users_see_and_dismiss_only_their_own_jobs(secured_suite: LiveSuite) -> None:
    execute = secured_suite.url("ogcapi/processes/echo/execution")
    done = requests.post(
        execute, json={"inputs": {"stringInput": "mine"}}, headers=bearer("bob"), timeout=60
    )
    assert done.status_code == 200, done.text
    job_url = done.headers["Location"]
    job_id = job_url.rsplit("/", 1)[-1]
    mine = requests.get(secured_suite.url("ogcapi/jobs"), headers=bearer("bob"), timeout=30).json()
    theirs = requests.get(
        secured_suite.url("ogcapi/jobs"), headers=bearer("alice"), timeout=30
    ).json()
    everyone = requests.get(
        secured_suite.url("ogcapi/jobs"), headers=bearer("root"), timeout=30
    ).json()
    assert job_id in {job["jobID"] for job in mine["jobs"]}
    assert job_id not in {job["jobID"] for job in theirs["jobs"]}
    assert job_id in {job["jobID"] for job in everyone["jobs"]}
    for path in ("", "/results"):
        response = requests.get(job_url + path, headers=bearer("alice"), timeout=30)
        assert response.status_code == 404 and response.json()["title"] == "NoSuchJob"
    assert requests.delete(job_url, headers=bearer("alice"), timeout=30).status_code == 404
    assert requests.get(job_url, headers=bearer("bob"), timeout=30).json()["status"] == "successful"
    dismissed = requests.delete(job_url, headers=bearer("bob"), timeout=30)
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"


def test_concurrent_jobs_quota_is_429_with_retry_after(secured_suite: LiveSuite) -> None:
    execute = secured_suite.url("ogcapi/processes/slow/execution")
    headers = {**bearer("alice"), "Prefer": "respond-async"}
    first = requests.post(execute, json={"inputs": {"seconds": 60}}, headers=headers, timeout=30)
    assert first.status_code == 201, first.text
    try:
        second = requests.post(
            execute, json={"inputs": {"seconds": 1}}, headers=headers, timeout=30
        )
        assert second.status_code == 429
        assert int(second.headers["Retry-After"]) >= 1
        assert second.json()["title"] == "TooManyRequests"
        other = requests.post(
            execute, json={"inputs": {"seconds": 0.1}}, headers=bearer("bob"), timeout=60
        )
        assert other.status_code == 200  # bob's quota is his own
    finally:
        requests.delete(first.headers["Location"], headers=bearer("alice"), timeout=30)
