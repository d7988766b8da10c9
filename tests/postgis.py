"""A real PostgreSQL 15 + PostGIS for the session (pytest plugin, see conftest.py).

``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback port with a
private socket directory, one database with ``CREATE EXTENSION postgis``; stopped at the
end of the session. PostgreSQL refuses to run as root, so as root the server runs as
the ``postgres`` user (``runuser``).

Missing binaries skip the tests that need it, unless ``OGCSDL_REQUIRE_POSTGIS=1`` (CI),
where a missing PostGIS is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.ports import free_port
from tests.required import unavailable

PG_BIN = Path(os.environ.get("OGCSDL_PG_BIN", "/usr/lib/postgresql/15/bin"))
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
DATABASE = "ogcsdl_test"


def _unavailable(reason: str) -> None:
    unavailable(
        "POSTGIS", f"PostGIS not available: {reason} (scripts/setup.sh --system installs it)"
    )


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        _unavailable("running as root and runuser is missing")
    return [str(runuser), "-u", "postgres", "--", *argv]


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")


class PostgisServer:
    """One private PostgreSQL + PostGIS server; :meth:`stop` and :meth:`start` again on
    the same port (the fault tests take the database away under a running suite)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data, self.sockets, self.log = root / "data", root / "sockets", root / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"
        self.pg_ctl = str(PG_BIN / "pg_ctl")

    def create(self) -> None:
        self.data.mkdir()
        self.sockets.mkdir()
        self.log.touch()
        if os.geteuid() == 0:
            for path in (self.root, self.data, self.sockets, self.log):
                shutil.chown(path, "postgres")
        _run(
            _as_postgres(
                [str(PG_BIN / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(self.data)]
            )
        )
        self.start()
        psql = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        _run([*psql, "-d", "postgres", "-c", f"CREATE DATABASE {DATABASE}"])
        _run([*psql, "-d", DATABASE, "-c", "CREATE EXTENSION postgis"])

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets} -c fsync=off"
        _run(
            _as_postgres(
                [
                    self.pg_ctl,
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.log),
                    "-w",
                    "start",
                ]
            )
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                capture_output=True,
                timeout=60,
                check=False,
            )


@contextmanager
def postgis_server() -> Iterator[PostgisServer]:
    """A fresh server for the ``with`` block (skips or fails when PostGIS is missing)."""
    for tool in ("initdb", "pg_ctl", "psql"):
        if not (PG_BIN / tool).exists():
            _unavailable(f"{PG_BIN / tool} is missing")
    if not POSTGIS_CONTROL.exists():
        _unavailable(f"{POSTGIS_CONTROL} is missing (package postgresql-15-postgis-3)")
    # Not under pytest's tmp tree: pytest resets /tmp/pytest-of-<user> to 0700 whenever
    # any (concurrent) session starts, which locks the postgres user out mid-run.
    server = PostgisServer(Path(tempfile.mkdtemp(prefix="ogcsdl-postgis-")))
    try:
        server.create()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgis_url() -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:PORT/ogcsdl_test`` with PostGIS enabled."""
    with postgis_server() as server:
        yield server.url


@contextmanager
def private_database(server_url: str, prefix: str, *, postgis: bool = True) -> Iterator[str]:
    """A database of its own on the session's server (``prefix_<random>``), with PostGIS
    enabled unless ``postgis`` is False; dropped afterwards, even with connections open."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{server_url.rsplit('/', 1)[0]}/{name}"
    try:
        if postgis:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION postgis")
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
