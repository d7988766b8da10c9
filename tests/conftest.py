"""Shared fixtures. Live fixtures start the real suite; see tests/live.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dask
import pytest

from ogcsdl.config import PROJECT_ROOT
from tests.live import LiveSuite, run_suite, wait_for_stopping
from tests.processing_standin import EXTRA
from tests.processing_support import external_dask_cluster
from tests.required import unavailable
from tests.xdist_groups import file_groups, longest_first

# postgis_url: a real PostgreSQL + PostGIS; catalogue: pycsw over sample products;
# secured_suite: the suite with access control on, on its own PostGIS (secured_database).
pytest_plugins = ["tests.postgis", "tests.catalogue_fixtures", "tests.secured"]


# Dask's own diagnostics sample every 10 ms (the workers' statistical profiler, for its
# dashboard) and every 20 ms (the event-loop check) in each scheduler and worker: an idle
# suite burned ~0.1 CPU-s per second on them (0.03 without), and a session keeps three
# clusters idle most of the time on 2 cores. No test reads them. Every cluster the tests
# start inherits this: suites and external clusters through the environment, in-process
# ones through dask.config.
QUIET_DASK = {
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
}


def pytest_configure(config: pytest.Config) -> None:
    for key, value in QUIET_DASK.items():
        os.environ.setdefault(key, value)
    dask.config.refresh()  # in-process clusters read it from the environment too


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hook reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, each test's group (``--dist loadgroup``): see xdist_groups.py."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a plain run: one process, nothing to group
    groups = file_groups(items)
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[item.nodeid.split("::")[0]]))
    items[:] = longest_first(items, groups)  # the queue order (--no-loadscope-reorder)


@pytest.hookimpl(trylast=True)  # after xdist's worker hook has renamed the grouped tests
def pytest_collection_finish(session: pytest.Session) -> None:
    """Fail the run if xdist ignored the groups: the servers would boot on both workers
    (pytest-xdist 3.8.0 with pytest 9.2 did so silently, nearly doubling the run)."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or not session.config.getvalue("loadgroup"):
        return
    ungrouped = [item.nodeid for item in session.items if "@" not in item.nodeid]
    if ungrouped:
        raise pytest.UsageError(
            f"pytest-xdist did not apply the test groups (e.g. {ungrouped[0]}): "
            "pytest and pytest-xdist versions do not match; run scripts/setup.sh"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Shared suites were only sent SIGTERM at their fixture's end: wait for them here."""
    wait_for_stopping()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real Sentinel sample data (../shared/data); skips when it is absent."""
    path = Path(os.environ.get("OGCSDL_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        unavailable("SHARED_DATA", f"real sample data not found at {path} (set OGCSDL_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSuite]:
    """The whole suite on SQLite + embedded cluster, with the processing tests' extra
    processors (pair, slow, scale, difference), shared by the session's live tests: one
    boot for all of them. Tests must only assert on products and jobs they created
    themselves."""
    extra = {"processing": {"extra_processors": EXTRA}}
    with run_suite(tmp_path_factory.mktemp("suite"), extra, stop_in_background=True) as live:
        yield live


@pytest.fixture(scope="session")
def processing_suite(suite: LiveSuite) -> LiveSuite:
    """The session suite, named for the processing tests that need its extra processors."""
    return suite


@pytest.fixture(scope="session")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real external ``dask scheduler`` + two ``dask worker`` processes for the session's
    job tests (each job carries its own settings, so one cluster serves them all; the
    fault tests kill workers, whose nannies restart them)."""
    with external_dask_cluster(tmp_path_factory.mktemp("dask")) as address:
        yield address
