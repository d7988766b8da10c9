"""Shared fixtures. Live fixtures start the real suite; see tests/live.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ogcsdl.config import PROJECT_ROOT
from tests.live import LiveSuite, run_suite
from tests.processing_standin import EXTRA

# postgis_url: a real PostgreSQL + PostGIS; catalogue: pycsw over sample products;
# secured_suite: the suite with access control on, on its own PostGIS (secured_database).
pytest_plugins = ["tests.postgis", "tests.catalogue_fixtures", "tests.secured"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real Sentinel sample data (../shared/data); skips when it is absent."""
    path = Path(os.environ.get("OGCSDL_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        if os.environ.get("OGCSDL_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(
                f"real sample data required (OGCSDL_REQUIRE_SHARED_DATA=1) but {path} is absent"
            )
        pytest.skip(f"real sample data not found at {path} (set OGCSDL_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSuite]:
    """The whole suite on SQLite + embedded cluster, shared by the session's live tests.
    Tests must only assert on products and jobs they created themselves."""
    with run_suite(tmp_path_factory.mktemp("suite")) as live:
        yield live


@pytest.fixture(scope="session")
def processing_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSuite]:
    """The suite with the processing tests' extra processors (slow, scale, difference)."""
    extra = {"processing": {"extra_processors": EXTRA}}
    with run_suite(tmp_path_factory.mktemp("processing-suite"), extra) as live:
        yield live
