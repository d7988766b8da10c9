"""One rule for what a test needs from the machine: without it the test skips, saying
what is missing and how to get it; where CI requires it (``OGCSDL_REQUIRE_<NAME>=1``,
set in ``.ci/run``) its absence is a failure, never a skip.

Requirements: POSTGIS, CATALOGUE (the pycsw environment), GDAL, QGIS, NGINX, MOUNT
(a private tmpfs), SHARED_DATA (../shared: the real sample data and OGC schemas)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(requirement: str, reason: str) -> NoReturn:
    """Skip with ``reason``, or fail when ``OGCSDL_REQUIRE_<requirement>=1``."""
    variable = f"OGCSDL_REQUIRE_{requirement}"
    if os.environ.get(variable) == "1":
        pytest.fail(f"{reason}; it is required here ({variable}=1)")
    pytest.skip(reason)
