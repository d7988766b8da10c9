"""What runs once before the suite serves or ingests (``ogcsdl serve``, ``ogcsdl ingest``,
``ogcsdl demo``, test fixtures): the data directories and the database schema are
created, and scratch a crash left behind is removed. Stores never run DDL themselves.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Collection
from pathlib import Path

from ogcsdl.config import Settings
from ogcsdl.ingest.writer import STAGING_SUFFIX
from ogcsdl.jobs.paths import WORKDIR_PREFIX, outputs_dir
from ogcsdl.jobs.store import JobStore
from ogcsdl.schema import create_schema

LOG = logging.getLogger(__name__)

# GDAL's COG driver writes overviews to "<output>.ovr.tmp" before it copies them in.
_SCRATCH_SUFFIXES = (STAGING_SUFFIX, ".ovr.tmp")


def _owned_by(path: Path, settings: Settings, jobs: Collection[str]) -> bool:
    relative = str(path.relative_to(settings.data_dir))
    return any(job_id in relative for job_id in jobs)


def scratch(settings: Settings) -> list[Path]:
    """Everything a crash can leave: job work directories, staged files beside COGs and
    job output files, half-generated demo sets."""
    job_outputs = outputs_dir(settings, "-").parent  # <data_dir>/job-outputs: kept!
    found = [
        p for p in settings.data_dir.glob(f"{WORKDIR_PREFIX}*") if p.is_dir() and p != job_outputs
    ]
    found += list(settings.data_dir.glob(".demo-input-*"))
    for directory in (settings.cog_dir, *job_outputs.glob("*")):
        if directory.is_dir():
            found += [p for p in directory.iterdir() if p.name.endswith(_SCRATCH_SUFFIXES)]
    return found


def remove_scratch(settings: Settings, keep_jobs: Collection[str] = ()) -> list[Path]:
    """Remove :func:`scratch`, except what belongs to the jobs in ``keep_jobs`` (still
    running on an external cluster); return what was removed."""
    removed = []
    for path in scratch(settings):
        if _owned_by(path, settings, keep_jobs):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        LOG.info("removed %d scratch files and directories left by an earlier run", len(removed))
    return removed


def prepare(settings: Settings) -> None:
    """Directories, schema and a clean data directory, before anything serves."""
    settings.ensure_dirs()
    create_schema(settings)
    # An external cluster outlives the suite: its running jobs keep their scratch. The
    # embedded cluster's unfinished jobs died with it (they are marked failed).
    keep: list[str] = []
    if settings.cluster.scheduler_address is not None:
        keep = JobStore(settings.database_url).unfinished_ids()
    remove_scratch(settings, keep)
