"""Where a job's files live under the data directory. A module of its own, so start-up
(which clears what a crash left behind) needs no import of the job runner and its
processors."""

from __future__ import annotations

from pathlib import Path

from ogcsdl.config import Settings

WORKDIR_PREFIX = "job-"  # <data_dir>/job-<job id>-*: a job's scratch, removed when it ends


def outputs_dir(settings: Settings, job_id: str) -> Path:
    """<data_dir>/job-outputs/<job id>: a finished job's outputs, kept."""
    return settings.data_dir / "job-outputs" / job_id
