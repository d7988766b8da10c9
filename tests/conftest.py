"""Shared fixtures. Live fixtures start the real suite; see tests/live.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ogcsdl.config import PROJECT_ROOT
from tests.live import LiveSuite, run_suite

# postgis_url: a real PostgreSQL + PostGIS; catalogue: pycsw over sample products.
pytest_plugins = ["tests.postgis", "tests.catalogue_fixtures"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real Sentinel sample data (../shared/data); skips when it is absent."""
    path = Path(os.environ.get("OGCSDL_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"real sample data not found at {path} (set OGCSDL_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSuite]:
    """The whole suite on SQLite + embedded cluster, shared by the session's live tests.
    Tests must only assert on products and jobs they created themselves."""
    with run_suite(tmp_path_factory.mktemp("suite")) as live:
        yield live
