"""``benchmarks/catalogue.py`` at a tiny size on the session's PostGIS server: it loads
through the product store, answers every service and prints its table (the figures
themselves come from the full 1,000,000-record run, not from here)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ogcsdl.config import PROJECT_ROOT
from tests.catalogue_fixtures import require_catalogue_env
from tests.postgis import private_database

pytestmark = pytest.mark.postgis


def test_catalogue_benchmark_runs_at_a_tiny_size(postgis_url: str, tmp_path: Path) -> None:
    require_catalogue_env()
    with private_database(postgis_url, "catbench") as database_url:
        argv = [
            *("--records", "300", "--page", "150", "--queries", "3"),
            *("--oai-records", "60", "--harvest-records", "60"),
            *("--database-url", database_url, "--workdir", str(tmp_path)),
        ]
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.catalogue", *argv],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            env=env,
            timeout=600,
            check=False,
        )
    out = done.stdout
    (tmp_path / "benchmark.out").write_text(out + done.stderr, encoding="utf-8")
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "records in the store: 300 (pycsw records: 300)" in out
    assert re.search(r"load: 300 records in \d+ s = \d+ records/s", out)
    assert out.count("Execution Time") == 2  # the plan summaries (STAC, CSW)
    for row in ("CSW GetRecords", "STAC search", "OpenSearch", "OAI-PMH ListRecords page"):
        assert re.search(rf"^{row}.*\s[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.M), out
    cpu = re.search(r"^  CSW GetRecords +([\d.]+) +([\d.]+) +([\d.]+)$", out, re.M)
    assert cpu and float(cpu[2]) > 0, out  # client, web servers, database (10 ms ticks)
    listed = re.search(r"OAI-PMH: (\d+) records in [\d.]+ s", out)
    assert listed and 60 <= int(listed[1]) <= 300, out  # whole pages, each record once
    matched = re.search(
        r"CSW (\d+), its SQL (\d+), OpenSearch (\d+), its SQL (\d+);"
        r" STAC items returned (\d+), its SQL (\d+)",
        out,
    )
    assert matched and matched[1] == matched[2] and matched[3] == matched[4], out
    assert matched[5] == matched[6], out
    for protocol in ("csw", "opensearch", "stac"):
        assert re.search(rf"harvest {protocol}: 60 added, 0 rejected", out), out
        assert re.search(rf"harvest over {protocol}: \d+ records/s", out), out
