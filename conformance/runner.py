"""Protocol checks runnable against ANY deployment (ours or a peer's).

A check is a function ``(base_url, session) -> CheckResult`` registered with
:func:`check` under a standard name. Each service contributes one module of checks,
listed in :data:`CHECK_MODULES`; importing the module registers its checks. The runner
runs them one by one (a crashing check is a failure with its reason, never a crash of
the run) and prints a table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import requests

# One module per service; a new service adds its line here.
CHECK_MODULES: list[str] = [
    "conformance.csw",
    "conformance.opensearch",
    "conformance.wmts",
    "conformance.wcs",
    "conformance.wps",
    "conformance.ogcapi_processes",
    "conformance.records",
]

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class CheckResult:
    status: Status
    reason: str = ""

    @classmethod
    def ok(cls, reason: str = "") -> CheckResult:
        return cls("pass", reason)

    @classmethod
    def failed(cls, reason: str) -> CheckResult:
        return cls("fail", reason)

    @classmethod
    def skipped(cls, reason: str) -> CheckResult:
        return cls("skip", reason)


class CheckFailure(Exception):
    """Raised inside a check to fail it with a reason (shorter than returning)."""


CheckFunction = Callable[[str, requests.Session], CheckResult]


@dataclass(frozen=True)
class Check:
    standard: str  # e.g. "CSW 2.0.2", "OpenSearch 1.1"
    name: str  # e.g. "GetCapabilities valid"
    function: CheckFunction
    module: str


@dataclass(frozen=True)
class Outcome:
    check: Check
    result: CheckResult


REGISTRY: list[Check] = []


def check(standard: str, name: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under ``standard``."""

    def register(function: CheckFunction) -> CheckFunction:
        REGISTRY.append(Check(standard, name, function, function.__module__))
        return function

    return register


PlainCheck = Callable[[str, requests.Session], tuple[bool, str]]


def register_endpoint_checks(
    standard: str,
    endpoint: str,
    functions: Iterable[PlainCheck],
    module: str,
    skip_on: tuple[type[Exception], ...] = (),
) -> None:
    """Register plain ``check_x(service_url, session) -> (passed, reason)`` functions so
    the runner calls them with ``<base URL><endpoint>``; ``skip_on`` exceptions mean
    "nothing to check here" (e.g. no coverage published yet)."""
    from lxml import etree

    for function in functions:

        def adapter(
            base_url: str, session: requests.Session, function: PlainCheck = function
        ) -> CheckResult:
            try:
                passed, reason = function(base_url.rstrip("/") + endpoint, session)
            except skip_on as exc:
                return CheckResult.skipped(str(exc))
            except etree.XMLSyntaxError as exc:
                return CheckResult.failed(f"not XML: {exc}")
            return CheckResult.ok(reason) if passed else CheckResult.failed(reason)

        adapter.__module__ = module
        name = function.__name__.removeprefix("check_").replace("_", " ")
        check(standard, name)(adapter)


def load_checks(modules: Iterable[str] = CHECK_MODULES) -> list[Check]:
    wanted = list(modules)
    for module in wanted:
        importlib.import_module(module)
    return [item for item in REGISTRY if item.module in wanted]


def _selected(item: Check, only: set[str] | None) -> bool:
    if not only:
        return True
    keys = {item.module.rsplit(".", 1)[-1].lower(), item.standard.lower()}
    keys.add(item.standard.split()[0].lower())
    return bool(keys & {name.lower() for name in only})


def run_checks(
    base_url: str,
    only: set[str] | None = None,
    session: requests.Session | None = None,
    timeout_s: float = 30,
) -> list[Outcome]:
    """Run the registered checks (``only``: module or standard names, e.g. {"csw"})."""
    session = session or TimeoutSession(timeout_s)
    base_url = base_url.rstrip("/")
    outcomes = []
    for item in load_checks():
        if not _selected(item, only):
            continue
        try:
            result = item.function(base_url, session)
        except CheckFailure as exc:
            result = CheckResult.failed(str(exc))
        except requests.RequestException as exc:
            result = CheckResult.failed(f"HTTP error: {exc}")
        except Exception as exc:  # noqa: BLE001 - a broken check or target is a failure
            result = CheckResult.failed(f"{type(exc).__name__}: {exc}")
        outcomes.append(Outcome(item, result))
    return outcomes


class TimeoutSession(requests.Session):
    """A session whose requests time out unless the check says otherwise: a target
    that hangs must fail a check, not the run."""

    def __init__(self, timeout_s: float = 30) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, *args, **kwargs)


def format_table(outcomes: list[Outcome], width: int = 70) -> str:
    rows = [("STANDARD", "CHECK", "RESULT", "REASON")]
    for outcome in outcomes:
        reason = " ".join(outcome.result.reason.split())
        if len(reason) > width:
            reason = reason[: width - 3] + "..."
        rows.append(
            (outcome.check.standard, outcome.check.name, outcome.result.status.upper(), reason)
        )
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        "  ".join(row[column].ljust(widths[column]) for column in range(3)) + "  " + row[3]
        for row in rows
    ]
    passed = sum(outcome.result.status == "pass" for outcome in outcomes)
    failed = sum(outcome.result.status == "fail" for outcome in outcomes)
    skipped = len(outcomes) - passed - failed
    lines.append(f"\n{passed} passed, {failed} failed, {skipped} skipped")
    return "\n".join(lines)
