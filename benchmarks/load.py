"""Mixed load on the whole suite: N concurrent clients for S seconds, authenticated.

Each client loops over a fixed mix: CSW GetRecords, WMTS GetTile, WCS GetCoverage, STAC
search, OGC API - Processes ``echo`` (async execute, then poll to the end) and, less
often, a small synchronous ``cloud-mask``. Reported per operation: count, requests/s,
p50/p95/p99 latency and errors; at the end every submitted job is looked up again: a
job that is not ``successful`` is lost. Exit code 1 unless there are 0 errors and 0
lost jobs.

By default it starts its own suite (``tests.live``) in a temporary directory, with the
demo data (small) ingested and an API key configured (anonymous processing closed), so
every execute carries ``Authorization: Bearer``. ``--url`` + ``--token`` load an
existing deployment instead.

Run: ``PYTHONPATH=$PWD .venv/bin/python -m benchmarks.load [--clients 20 --seconds 60]``
"""

from __future__ import annotations

import argparse
import math
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from benchmarks.tiles import mercator_tiles
from ogcsdl.catalogue.factory import product_store
from ogcsdl.config import load_settings
from ogcsdl.demo import generate_demo_set
from ogcsdl.ingest.pipeline import ingest_paths
from ogcsdl.security.keys import digest
from ogcsdl.tiles.mapproxy_config import iso_time
from tests.live import start_suite, stop_suite, write_config

JOB_TIMEOUT_S = 300
# One client's cycle; "cloud_mask" is the expensive one, so once per cycle.
CYCLE = [
    "csw_getrecords",
    "wmts_gettile",
    "stac_search",
    "wcs_getcoverage",
    "wmts_gettile",
    "echo_execute_poll",
    "csw_getrecords",
    "wmts_gettile",
    "stac_search",
    "wcs_getcoverage",
    "echo_execute_poll",
    "cloud_mask",
]


@dataclass
class Target:
    base_url: str
    token: str
    optical: str  # an S2 L2A product id
    optical_start: str
    tiles: list[tuple[int, int]]
    zoom: int
    bbox: tuple[float, float, float, float]


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    jobs: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, operation: str, seconds: float, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.latencies[operation].append(seconds)
            else:
                self.errors[operation].append(error)


class LoadError(Exception):
    pass


def _check(response: requests.Response, expected: int = 200, start: bytes = b"") -> None:
    if response.status_code != expected:
        raise LoadError(f"HTTP {response.status_code}: {response.text[:200]}")
    if start and not response.content.startswith(start):
        raise LoadError(f"unexpected body {response.content[:60]!r}")


class Client:
    def __init__(self, target: Target, results: Results, index: int) -> None:
        self.target, self.results, self.index = target, results, index
        self.session = requests.Session()
        self.auth = {"Authorization": f"Bearer {target.token}"}
        self.count = 0

    def url(self, path: str) -> str:
        return f"{self.target.base_url}/{path}"

    def csw_getrecords(self) -> None:
        params = {
            "service": "CSW",
            "version": "2.0.2",
            "request": "GetRecords",
            "typenames": "csw:Record",
            "elementsetname": "brief",
            "resulttype": "results",
            "maxrecords": "10",
        }
        response = self.session.get(self.url("csw"), params=params, timeout=60)
        _check(response)
        if b"GetRecordsResponse" not in response.content:
            raise LoadError("not a GetRecordsResponse")

    def wmts_gettile(self) -> None:
        col, row = self.target.tiles[(self.index + self.count) % len(self.target.tiles)]
        params = {
            "service": "WMTS",
            "version": "1.0.0",
            "request": "GetTile",
            "layer": self.target.optical,
            "style": "default",
            "tilematrixset": "GoogleMapsCompatible",
            "tilematrix": str(self.target.zoom),
            "tilerow": str(row),
            "tilecol": str(col),
            "format": "image/png",
            "time": self.target.optical_start,
        }
        _check(
            self.session.get(self.url("maps/service"), params=params, timeout=60), 200, b"\x89PNG"
        )

    def wcs_getcoverage(self) -> None:
        params = {
            "service": "WCS",
            "version": "2.0.1",
            "request": "GetCoverage",
            "coverageId": self.target.optical,
            "rangesubset": "B04,B03,B02",
            "format": "image/tiff",
        }
        _check(self.session.get(self.url("wcs"), params=params, timeout=60), 200, b"II*\x00")

    def stac_search(self) -> None:
        bbox = ",".join(str(v) for v in self.target.bbox)
        response = self.session.get(
            self.url("stac/search"), params={"bbox": bbox, "limit": "10"}, timeout=60
        )
        _check(response)
        if not response.json().get("features"):
            raise LoadError("STAC search found nothing in the data's own box")

    def echo_execute_poll(self) -> None:
        body = {
            "inputs": {"stringInput": f"c{self.index}-{self.count}", "integerInput": self.count}
        }
        headers = {**self.auth, "Prefer": "respond-async"}
        response = self.session.post(
            self.url("ogcapi/processes/echo/execution"), json=body, headers=headers, timeout=60
        )
        _check(response, 201)
        job_url = response.headers["Location"]
        with self.results.lock:
            self.results.jobs.append(job_url)
        deadline = time.monotonic() + JOB_TIMEOUT_S
        delay = 0.05
        while time.monotonic() < deadline:
            status = self.session.get(job_url, headers=self.auth, timeout=60)
            _check(status)
            state = status.json()["status"]
            if state == "successful":
                return
            if state in ("failed", "dismissed"):
                raise LoadError(f"echo job {state}: {status.json().get('message')}")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        raise LoadError("echo job did not finish in time")

    def cloud_mask(self) -> None:
        body = {"inputs": {"product": self.target.optical, "method": "rules"}}
        response = self.session.post(
            self.url("ogcapi/processes/cloud-mask/execution"),
            json=body,
            headers=self.auth,
            timeout=JOB_TIMEOUT_S,
        )
        _check(response)
        with self.results.lock:
            self.results.jobs.append(response.headers["Location"])

    def run(self, until: float) -> None:
        while time.monotonic() < until:
            operation = CYCLE[(self.index + self.count) % len(CYCLE)]
            started = time.perf_counter()
            error = None
            try:
                getattr(self, operation)()
            except (LoadError, requests.RequestException, KeyError, ValueError) as exc:
                error = f"{exc.__class__.__name__}: {exc}"
            self.results.record(operation, time.perf_counter() - started, error)
            self.count += 1


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def lost_jobs(results: Results, token: str) -> list[str]:
    auth = {"Authorization": f"Bearer {token}"}
    lost = []
    for job_url in results.jobs:
        try:
            status = requests.get(job_url, headers=auth, timeout=60).json().get("status")
        except (requests.RequestException, ValueError):
            status = None
        if status != "successful":
            lost.append(f"{job_url}: {status}")
    return lost


def report(results: Results, seconds: float, lost: list[str], clients: int) -> bool:
    print(f"\n{clients} clients x {seconds:.0f} s")
    print(
        f"{'operation':<20}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
    )
    total = 0
    for operation in dict.fromkeys(CYCLE):
        values = results.latencies.get(operation, [])
        errors = len(results.errors.get(operation, []))
        total += len(values) + errors
        if not values:
            print(f"{operation:<20}{0:>7}{0:>8.1f}{'-':>9}{'-':>9}{'-':>9}{errors:>8}")
            continue
        print(
            f"{operation:<20}{len(values):>7}{len(values) / seconds:>8.1f}"
            f"{statistics.median(values) * 1000:>9.0f}{percentile(values, 0.95) * 1000:>9.0f}"
            f"{percentile(values, 0.99) * 1000:>9.0f}{errors:>8}"
        )
    error_count = sum(len(v) for v in results.errors.values())
    print(
        f"total: {total} operations, {total / seconds:.1f}/s, {error_count} errors, "
        f"{len(results.jobs)} jobs, {len(lost)} lost"
    )
    for operation, messages in results.errors.items():
        for message in messages[:3]:
            print(f"  error {operation}: {message}")
    for line in lost[:5]:
        print(f"  lost: {line}")
    return error_count == 0 and not lost


@contextmanager
def own_suite(workdir: Path) -> Iterator[Target]:
    """The suite on small demo data, one API key, quotas out of the way of the load."""
    token = f"ogk_load01_{secrets.token_urlsafe(32)}"
    extra = {
        "server": {"workers": 4},
        "security": {
            "auth": {
                "anonymous_processing": "never",
                "api_keys": [{"id": "load01", "user": "load", "sha256": digest(token)}],
                "quotas": {
                    "requests_per_minute": 1_000_000,
                    "concurrent_jobs": 10_000,
                    "jobs_per_hour": 1_000_000,
                },
            }
        },
    }
    config_file = write_config(workdir, extra)
    settings = load_settings(config_file)
    settings.ensure_dirs()
    ingest_paths(settings, [*generate_demo_set(workdir / "demo-input", size=120)])
    optical = next(r for r in product_store(settings).list() if r.collection == "sentinel-2-l2a")
    zoom = 16
    suite = start_suite(config_file)
    try:
        yield Target(
            suite.base_url,
            token,
            optical.identifier,
            iso_time(optical.start),
            mercator_tiles(optical.bbox, zoom),
            zoom,
            optical.bbox,
        )
    finally:
        stop_suite(suite)


def _drive(target: Target, results: Results, clients: int, seconds: float) -> None:
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=Client(target, results, i).run, args=(until,), daemon=True)
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + JOB_TIMEOUT_S)


def run(target: Target, clients: int, seconds: float, warmup_s: float) -> bool:
    # Warm-up, not counted: every gateway worker builds its services on first use.
    _drive(target, Results(), clients, warmup_s)
    results = Results()
    started = time.monotonic()
    _drive(target, results, clients, seconds)
    elapsed = time.monotonic() - started
    return report(results, elapsed, lost_jobs(results, target.token), clients)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds, not counted")
    parser.add_argument("--url", help="load this deployment instead of starting one")
    parser.add_argument("--token", help="API key or token for --url")
    parser.add_argument("--product", help="with --url: an optical product id to view/process")
    args = parser.parse_args(argv)
    if args.url:
        if not (args.token and args.product):
            parser.error("--url needs --token and --product")
        record_bbox = (-180.0, -85.0, 180.0, 85.0)
        target = Target(
            args.url.rstrip("/"), args.token, args.product, "", [(0, 0)], 0, record_bbox
        )
        return 0 if run(target, args.clients, args.seconds, args.warmup) else 1
    with (
        tempfile.TemporaryDirectory(prefix="ogcsdl-load-") as workdir,
        own_suite(Path(workdir)) as target,
    ):
        ok = run(target, args.clients, args.seconds, args.warmup)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
