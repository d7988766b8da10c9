"""OGC API - Processes 1.0 job-lifecycle checks, runnable against any implementation
that offers an ``echo`` process with a string input ``stringInput`` echoed as
``stringOutput``
(ours: ``<base>/ogcapi``).

Each check is ``check_x(api_url, session) -> (passed, reason)``; ``CHECKS`` lists them.
They are also registered with :mod:`conformance.runner`, so
``ogcsdl conformance BASE_URL --only wps`` (or ``ogcapi_processes``) runs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from conformance.runner import register_endpoint_checks

Result = tuple[bool, str]
Check = Callable[[str, requests.Session], Result]
PROCESS = "echo"
INPUT = "stringInput"  # echo: stringInput -> stringOutput
OUTPUT = "stringOutput"
CORE = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core"
STATUSES = {"accepted", "running", "successful", "failed", "dismissed"}


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _execute(
    url: str, session: requests.Session, message: str, asynchronous: bool
) -> requests.Response:
    headers = {"Prefer": "respond-async"} if asynchronous else {}
    body = {"inputs": {INPUT: message}, "response": "document"}
    return session.post(
        f"{url}/processes/{PROCESS}/execution", json=body, headers=headers, timeout=60
    )


def _status_url(url: str, response: requests.Response) -> str | None:
    location = response.headers.get("Location")
    document = _json(response) or {}
    if location:
        return location
    return f"{url}/jobs/{document['jobID']}" if "jobID" in document else None


def _wait(session: requests.Session, status_url: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    document: dict[str, Any] = {}
    while time.monotonic() < deadline:
        document = _json(session.get(status_url, timeout=30)) or {}
        if document.get("status") in ("successful", "failed", "dismissed"):
            return document
        time.sleep(0.2)
    return document


def check_conformance(url: str, session: requests.Session) -> Result:
    document = _json(session.get(f"{url}/conformance", timeout=30)) or {}
    if CORE not in document.get("conformsTo", []):
        return False, "the conformance declaration lacks Processes Core"
    return True, f"{len(document['conformsTo'])} conformance classes"


def check_process_list(url: str, session: requests.Session) -> Result:
    document = _json(session.get(f"{url}/processes", timeout=30)) or {}
    ids = [p.get("id") for p in document.get("processes", [])]
    if PROCESS not in ids:
        return False, f"{PROCESS!r} is not listed (got {ids})"
    return True, f"{len(ids)} processes"


def check_process_description(url: str, session: requests.Session) -> Result:
    document = _json(session.get(f"{url}/processes/{PROCESS}", timeout=30)) or {}
    if INPUT not in document.get("inputs", {}) or OUTPUT not in document.get("outputs", {}):
        return False, f"the description lacks the {INPUT!r} input or {OUTPUT!r} output"
    if "async-execute" not in document.get("jobControlOptions", []):
        return False, "async-execute is not offered"
    return True, f"version {document.get('version')}"


def check_sync_execute(url: str, session: requests.Session) -> Result:
    response = _execute(url, session, "hello", asynchronous=False)
    document = _json(response) or {}
    value = document.get(OUTPUT)
    if isinstance(value, dict):
        value = value.get("value")
    if response.status_code != 200 or value != "hello":
        return False, f"synchronous execution answered {response.status_code} {document}"
    return True, "200 with the echoed message"


def check_async_execute(url: str, session: requests.Session) -> Result:
    response = _execute(url, session, "later", asynchronous=True)
    status_url = _status_url(url, response)
    first = _json(response) or {}
    if response.status_code != 201 or not status_url:
        return (
            False,
            f"asynchronous execution answered {response.status_code} without a job location",
        )
    if first.get("status") not in STATUSES:
        return False, f"the status info has status {first.get('status')!r}"
    final = _wait(session, status_url)
    if final.get("status") != "successful":
        return False, f"the job ended {final.get('status')!r}: {final.get('message')}"
    results = _json(session.get(f"{status_url}/results", timeout=30)) or {}
    value = results.get(OUTPUT)
    value = value.get("value") if isinstance(value, dict) else value
    if value != "later":
        return False, f"results lack the echoed message: {results}"
    return True, "201 -> successful -> results"


def check_job_list(url: str, session: requests.Session) -> Result:
    response = _execute(url, session, "listed", asynchronous=True)
    status_url = _status_url(url, response) or ""
    job_id = status_url.rstrip("/").rsplit("/", 1)[-1]
    listing = _json(session.get(f"{url}/jobs", timeout=30)) or {}
    ids = [job.get("jobID") for job in listing.get("jobs", [])]
    if job_id not in ids:
        return False, f"job {job_id} is not in /jobs"
    return True, f"{len(ids)} jobs listed"


def check_dismiss(url: str, session: requests.Session) -> Result:
    response = _execute(url, session, "dismiss me", asynchronous=True)
    status_url = _status_url(url, response)
    if not status_url:
        return False, "no job location"
    deleted = session.delete(status_url, timeout=30)
    document = _json(deleted) or {}
    if deleted.status_code != 200 or document.get("status") != "dismissed":
        return False, f"DELETE answered {deleted.status_code} {document.get('status')!r}"
    after = session.get(status_url, timeout=30)
    if after.status_code == 200 and (_json(after) or {}).get("status") != "dismissed":
        return False, "the job is not dismissed afterwards"
    return True, "dismissed"


def _problem(response: requests.Response, status: int) -> Result:
    document = _json(response) or {}
    if response.status_code != status or "title" not in document and "type" not in document:
        return (
            False,
            f"expected a {status} problem document, got {response.status_code} {response.text[:120]!r}",
        )
    return True, f"{status} {document.get('title') or document.get('type')}"


def check_unknown_process(url: str, session: requests.Session) -> Result:
    return _problem(session.get(f"{url}/processes/no-such-process-x", timeout=30), 404)


def check_unknown_job(url: str, session: requests.Session) -> Result:
    return _problem(
        session.get(f"{url}/jobs/00000000-0000-0000-0000-000000000000", timeout=30), 404
    )


def check_missing_input(url: str, session: requests.Session) -> Result:
    response = session.post(f"{url}/processes/{PROCESS}/execution", json={"inputs": {}}, timeout=30)
    return _problem(response, 400)


CHECKS: list[Check] = [
    check_conformance,
    check_process_list,
    check_process_description,
    check_sync_execute,
    check_async_execute,
    check_job_list,
    check_dismiss,
    check_unknown_process,
    check_unknown_job,
    check_missing_input,
]


register_endpoint_checks("OGC API - Processes 1.0", "/ogcapi", CHECKS, __name__)
