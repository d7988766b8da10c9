"""The job store: one table behind both processing front ends (WPS 1.0.0 and OGC API -
Processes) and the Dask workers. It is the only authority on a job's status: the WPS
status documents and /jobs are both rendered from it.

Status life cycle: ``accepted -> running -> successful | failed | dismissed``. Finished
states are final: a late progress report from a dismissed job cannot revive it.
"""

from __future__ import annotations

import builtins
import functools
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ogcsdl.db import connect
from ogcsdl.errors import NotFound, redact_paths
from ogcsdl.jobs.outputs import JobOutput, outputs_from_json, outputs_to_json

TABLE = "ogcsdl_jobs"

ACCEPTED, RUNNING, SUCCESSFUL, FAILED, DISMISSED = (
    "accepted",
    "running",
    "successful",
    "failed",
    "dismissed",
)
FINISHED = (SUCCESSFUL, FAILED, DISMISSED)
UNFINISHED = (ACCEPTED, RUNNING)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    job_id TEXT PRIMARY KEY,
    process_id TEXT NOT NULL,
    process_version TEXT NOT NULL,
    interface TEXT NOT NULL,
    status TEXT NOT NULL,
    progress INTEGER NOT NULL,
    message TEXT NOT NULL,
    inputs TEXT NOT NULL,
    outputs TEXT,
    error TEXT,
    error_code TEXT,
    request TEXT,
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    updated TEXT NOT NULL,
    owner TEXT
)
"""

_COLUMNS = (
    "job_id, process_id, process_version, interface, status, progress, message, inputs, "
    "outputs, error, error_code, request, created, started, finished, updated, owner"
)


class NoSuchJob(NotFound):
    code = "NoSuchJob"


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Job:
    job_id: str
    process_id: str
    process_version: str
    interface: str  # "wps" or "ogcapi": where it was submitted
    status: str
    progress: int
    message: str
    inputs: dict[str, Any]
    outputs: dict[str, JobOutput] | None
    error: str | None
    error_code: str | None
    request: dict[str, Any] | None  # the front end's own request, to re-render its documents
    created: datetime
    started: datetime | None
    finished: datetime | None
    updated: datetime
    owner: str | None = None  # who submitted it (ogcsdl.security); None: anonymous

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Job:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            job_id=row[0],
            process_id=row[1],
            process_version=row[2],
            interface=row[3],
            status=row[4],
            progress=int(row[5]),
            message=row[6],
            inputs=json.loads(row[7]),
            outputs=outputs_from_json(json.loads(row[8])) if row[8] else None,
            error=row[9],
            error_code=row[10],
            request=json.loads(row[11]) if row[11] else None,
            created=datetime.fromisoformat(row[12]),
            started=when(row[13]),
            finished=when(row[14]),
            updated=datetime.fromisoformat(row[15]),
            owner=row[16],
        )


class JobStore:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def ensure_schema(self) -> None:
        with connect(self.database_url) as conn:
            conn.execute(_SCHEMA)
            conn.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_created_idx ON {TABLE} (created)")
        self._add_owner_column()

    def _add_owner_column(self) -> None:
        """Tables made before jobs had owners get the column (added by ogcsdl.security)."""
        try:
            with connect(self.database_url) as conn:
                conn.query(f"SELECT owner FROM {TABLE} LIMIT 0")
        except Exception:  # noqa: BLE001 - sqlite3/psycopg: no such column
            with connect(self.database_url) as conn:
                conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN owner TEXT")

    def create(
        self,
        process_id: str,
        process_version: str,
        interface: str,
        inputs: dict[str, Any],
        request: dict[str, Any] | None = None,
        job_id: str | None = None,
        owner: str | None = None,
    ) -> Job:
        job_id = job_id or str(uuid.uuid4())
        now = _now()
        with connect(self.database_url) as conn:
            conn.execute(
                f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    process_id,
                    process_version,
                    interface,
                    ACCEPTED,
                    0,
                    "accepted",
                    json.dumps(inputs),
                    None,
                    None,
                    None,
                    json.dumps(request) if request is not None else None,
                    now,
                    None,
                    None,
                    now,
                    owner,
                ),
            )
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        with connect(self.database_url) as conn:
            rows = conn.query(f"SELECT {_COLUMNS} FROM {TABLE} WHERE job_id = ?", (job_id,))
        if not rows:
            raise NoSuchJob(f"no job with id {job_id!r}", locator="jobId")
        return Job.from_row(rows[0])

    def unfinished(self) -> list[Job]:
        """Every accepted or running job (what the cluster watchdog reconciles)."""
        with connect(self.database_url) as conn:
            rows = conn.query(
                f"SELECT {_COLUMNS} FROM {TABLE} WHERE status IN (?, ?) ORDER BY created",
                UNFINISHED,
            )
        return [Job.from_row(row) for row in rows]

    def list(self, limit: int = 100, offset: int = 0, owner: str | None = None) -> list[Job]:
        """The newest jobs; only ``owner``'s when given (what a non-admin user sees)."""
        where, params = ("WHERE owner = ? ", (owner,)) if owner is not None else ("", ())
        with connect(self.database_url) as conn:
            rows = conn.query(
                f"SELECT {_COLUMNS} FROM {TABLE} {where}ORDER BY created DESC, job_id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
        return [Job.from_row(row) for row in rows]

    def usage(self, owner: str, since: datetime) -> tuple[int, int]:
        """(unfinished jobs, jobs created since ``since``) of ``owner``: quota counters."""
        with connect(self.database_url) as conn:
            rows = conn.query(
                f"SELECT SUM(CASE WHEN status IN (?, ?) THEN 1 ELSE 0 END), "
                f"SUM(CASE WHEN created >= ? THEN 1 ELSE 0 END) FROM {TABLE} WHERE owner = ?",
                (*UNFINISHED, since.isoformat(), owner),
            )
        return int(rows[0][0] or 0), int(rows[0][1] or 0)

    def unfinished_ids(self) -> builtins.list[str]:
        with connect(self.database_url) as conn:
            rows = conn.query(f"SELECT job_id FROM {TABLE} WHERE status IN (?, ?)", UNFINISHED)
        return [row[0] for row in rows]

    def count(self) -> int:
        with connect(self.database_url) as conn:
            return int(conn.query(f"SELECT COUNT(*) FROM {TABLE}")[0][0])

    def _transition(
        self, job_id: str, allowed_from: tuple[str, ...], sql_set: str, params: tuple[Any, ...]
    ) -> bool:
        """Apply an update only if the job is in one of ``allowed_from``; True if it was."""
        placeholders = ", ".join("?" for _ in allowed_from)
        with connect(self.database_url) as conn:
            cursor = conn.execute(
                f"UPDATE {TABLE} SET {sql_set}, updated = ? WHERE job_id = ? AND status IN ({placeholders})",
                (*params, _now(), job_id, *allowed_from),
            )
            changed = cursor.rowcount > 0
        if not changed:
            self.get(job_id)  # raise NoSuchJob when it does not exist at all
        return changed

    def mark_running(self, job_id: str, message: str = "running") -> bool:
        return self._transition(
            job_id, (ACCEPTED,), "status = ?, message = ?, started = ?", (RUNNING, message, _now())
        )

    def set_progress(self, job_id: str, percent: float, message: str = "") -> bool:
        """Record progress; False when the job is no longer running (e.g. dismissed)."""
        percent_int = max(0, min(99, int(percent)))
        if message:
            return self._transition(
                job_id, (RUNNING,), "progress = ?, message = ?", (percent_int, message)
            )
        return self._transition(job_id, (RUNNING,), "progress = ?", (percent_int,))

    def mark_successful(
        self, job_id: str, outputs: dict[str, JobOutput], message: str = "finished"
    ) -> bool:
        return self._transition(
            job_id,
            UNFINISHED,
            "status = ?, progress = ?, message = ?, outputs = ?, finished = ?",
            (SUCCESSFUL, 100, message, json.dumps(outputs_to_json(outputs)), _now()),
        )

    def mark_failed(self, job_id: str, error: str, code: str = "NoApplicableCode") -> bool:
        # Every failure message is shown to clients: never with a server path in it.
        error = redact_paths(error)
        return self._transition(
            job_id,
            UNFINISHED,
            "status = ?, message = ?, error = ?, error_code = ?, finished = ?",
            (FAILED, error, error, code, _now()),
        )

    def mark_dismissed(self, job_id: str, message: str = "dismissed by the user") -> bool:
        """Dismiss a job: a queued or running one is cancelled; a finished one has its
        results withdrawn (OGC API - Processes answers ``dismissed`` either way)."""
        if self._transition(
            job_id,
            UNFINISHED,
            "status = ?, message = ?, finished = ?",
            (DISMISSED, message, _now()),
        ):
            return True
        return self._transition(
            job_id, (SUCCESSFUL, FAILED), "status = ?, message = ?", (DISMISSED, message)
        )

    def fail_unfinished(self, reason: str) -> int:
        """Mark every accepted/running job failed (used when the suite restarts)."""
        now = _now()
        with connect(self.database_url) as conn:
            cursor = conn.execute(
                f"UPDATE {TABLE} SET status = ?, message = ?, error = ?, error_code = ?, "
                "finished = ?, updated = ? WHERE status IN (?, ?)",
                (FAILED, reason, reason, "NoApplicableCode", now, now, *UNFINISHED),
            )
            return int(cursor.rowcount)

    def delete(self, job_id: str) -> None:
        with connect(self.database_url) as conn:
            conn.execute(f"DELETE FROM {TABLE} WHERE job_id = ?", (job_id,))


@functools.lru_cache(maxsize=16)
def job_store(database_url: str) -> JobStore:
    """The job store of this database, built once per process; the schema is created
    at start-up (:func:`ogcsdl.schema.create_schema`), never here."""
    return JobStore(database_url)
