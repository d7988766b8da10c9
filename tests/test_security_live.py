"""Access control on the live suite with real clients: OWSLib's WPS client and plain
requests send ``Authorization: Bearer <key>``; each user sees, reads and dismisses only
their own jobs (WPS status documents included); an admin sees all; the concurrent-jobs
quota answers 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from owslib.wps import WebProcessingService

from ogcsdl.security.keys import digest
from tests.live import LiveSuite, run_suite
from tests.processing_standin import EXTRA as PROCESSORS
from tests.processing_support import wait_for

pytestmark = pytest.mark.live
KEYS = {
    "alice": ("ogk_a11ce0_" + "a" * 43, "user"),
    "bob": ("ogk_b0b000_" + "b" * 43, "user"),
    "root": ("ogk_r00t00_" + "r" * 43, "admin"),
}


def _auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[user][0]}"}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSuite]:
    api_keys = [
        {"id": key.split("_")[1], "user": user, "role": role, "sha256": digest(key)}
        for user, (key, role) in KEYS.items()
    ]
    extra = {
        "processing": {"extra_processors": PROCESSORS},
        "security": {"auth": {"api_keys": api_keys, "quotas": {"concurrent_jobs": 1}}},
    }
    with run_suite(tmp_path_factory.mktemp("secured"), extra) as suite:
        yield suite


def test_owslib_wps_with_a_key_and_owner_only_status(secured: LiveSuite) -> None:
    anonymous = WebProcessingService(secured.url("wps"), skip_caps=True)
    with pytest.raises(Exception, match="401|NotAuthenticated|credential"):
        anonymous.execute("echo", inputs=[("stringInput", "x")], mode="sync")
    wps = WebProcessingService(secured.url("wps"), skip_caps=True, headers=_auth("alice"))
    execution = wps.execute(
        "echo", inputs=[("stringInput", "hello")], output=[("stringOutput", False)], mode="async"
    )
    status = execution.statusLocation
    wait_for(lambda: (execution.checkStatus(sleepSecs=0) or True) and execution.isComplete(), 60)
    assert execution.isSucceded(), execution.errors
    assert execution.processOutputs[0].data == ["hello"]
    job_id = status.rsplit("/", 1)[-1].removesuffix(".xml")
    assert requests.get(status, headers=_auth("bob"), timeout=30).status_code == 404
    assert requests.get(status, headers=_auth("root"), timeout=30).status_code == 200
    assert requests.get(status, timeout=30).status_code == 401
    job = requests.get(secured.url(f"ogcapi/jobs/{job_id}"), headers=_auth("alice"), timeout=30)
    assert job.status_code == 200 and job.json()["status"] == "successful"


def test_users_see_and_dismiss_only_their_own_jobs(secured: LiveSuite) -> None:
    execute = secured.url("ogcapi/processes/echo/execution")
    done = requests.post(
        execute, json={"inputs": {"stringInput": "mine"}}, headers=_auth("bob"), timeout=60
    )
    assert done.status_code == 200, done.text
    job_url = done.headers["Location"]
    job_id = job_url.rsplit("/", 1)[-1]
    mine = requests.get(secured.url("ogcapi/jobs"), headers=_auth("bob"), timeout=30).json()
    theirs = requests.get(secured.url("ogcapi/jobs"), headers=_auth("alice"), timeout=30).json()
    everyone = requests.get(secured.url("ogcapi/jobs"), headers=_auth("root"), timeout=30).json()
    assert job_id in {job["jobID"] for job in mine["jobs"]}
    assert job_id not in {job["jobID"] for job in theirs["jobs"]}
    assert job_id in {job["jobID"] for job in everyone["jobs"]}
    for path in ("", "/results"):
        response = requests.get(job_url + path, headers=_auth("alice"), timeout=30)
        assert response.status_code == 404 and response.json()["title"] == "NoSuchJob"
    assert requests.delete(job_url, headers=_auth("alice"), timeout=30).status_code == 404
    assert requests.get(job_url, headers=_auth("bob"), timeout=30).json()["status"] == "successful"
    dismissed = requests.delete(job_url, headers=_auth("bob"), timeout=30)
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"


def test_concurrent_jobs_quota_is_429_with_retry_after(secured: LiveSuite) -> None:
    execute = secured.url("ogcapi/processes/slow/execution")
    headers = {**_auth("alice"), "Prefer": "respond-async"}
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
            execute, json={"inputs": {"seconds": 0.1}}, headers=_auth("bob"), timeout=60
        )
        assert other.status_code == 200  # bob's quota is his own
    finally:
        requests.delete(first.headers["Location"], headers=_auth("alice"), timeout=30)
