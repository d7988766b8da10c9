"""The suite with access control on (API keys for alice, bob and an admin; one
concurrent job per user) on its own PostgreSQL + PostGIS, shared by the access-control
live tests and the database fault test (pytest plugin, see conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ogcsdl.security.keys import digest
from tests.live import LiveSuite, run_suite
from tests.postgis import PostgisServer, postgis_server
from tests.processing_standin import EXTRA as PROCESSORS

KEYS = {
    "alice": ("ogk_a11ce0_" + "a" * 43, "user"),
    "bob": ("ogk_b0b000_" + "b" * 43, "user"),
    "root": ("ogk_r00t00_" + "r" * 43, "admin"),
}


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[user][0]}"}


@pytest.fixture(scope="session")
def secured_database() -> Iterator[PostgisServer]:
    with postgis_server() as server:
        yield server


@pytest.fixture(scope="session")
def secured_suite(
    tmp_path_factory: pytest.TempPathFactory, secured_database: PostgisServer
) -> Iterator[LiveSuite]:
    api_keys = [
        {"id": key.split("_")[1], "user": user, "role": role, "sha256": digest(key)}
        for user, (key, role) in KEYS.items()
    ]
    extra = {
        "database": {"url": secured_database.url},
        "processing": {"extra_processors": PROCESSORS},
        "security": {"auth": {"api_keys": api_keys, "quotas": {"concurrent_jobs": 1}}},
    }
    with run_suite(tmp_path_factory.mktemp("secured"), extra, stop_in_background=True) as suite:
        yield suite
