"""The job store: life cycle, final states, restart recovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogcsdl.jobs.cluster import INTERRUPTED, recover_interrupted
from ogcsdl.jobs.outputs import JobOutput
from ogcsdl.jobs.store import JobStore, NoSuchJob, job_store
from tests.processing_support import processing_settings


def _store(tmp_path: Path) -> JobStore:
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    store.ensure_schema()
    return store


def test_life_cycle_and_final_states(tmp_path: Path) -> None:
    store = _store(tmp_path)
    job = store.create("echo", "1.0.0", "wps", {"message": "hi"})
    assert (job.status, job.progress, job.interface) == ("accepted", 0, "wps")
    assert store.mark_running(job.job_id)
    assert store.set_progress(job.job_id, 42.7, "half way")
    assert (store.get(job.job_id).progress, store.get(job.job_id).message) == (42, "half way")
    assert store.mark_successful(job.job_id, {"message": JobOutput.literal("hi", "string")})
    done = store.get(job.job_id)
    assert (done.status, done.progress, done.outputs) == (
        "successful",
        100,
        {"message": JobOutput.literal("hi", "string")},
    )
    assert done.started is not None and done.finished is not None and done.finished >= done.started
    # Finished is final: nothing revives or rewrites it.
    assert not store.mark_failed(job.job_id, "late failure")
    assert not store.set_progress(job.job_id, 10)
    assert store.get(job.job_id).status == "successful"
    # Dismissing a finished job withdraws it (OGC API - Processes dismiss), once.
    assert store.mark_dismissed(job.job_id)
    assert not store.mark_dismissed(job.job_id)
    assert store.get(job.job_id).status == "dismissed"


def test_dismissed_job_refuses_progress_and_keeps_message(tmp_path: Path) -> None:
    store = _store(tmp_path)
    job = store.create("slow", "1.0.0", "ogcapi", {})
    store.mark_running(job.job_id)
    assert store.mark_dismissed(job.job_id)
    assert not store.set_progress(job.job_id, 50)
    assert not store.mark_successful(job.job_id, {})
    assert store.get(job.job_id).status == "dismissed"
    failed = store.create("slow", "1.0.0", "ogcapi", {})
    store.mark_failed(failed.job_id, "bad grid", "InvalidParameterValue")
    again = store.get(failed.job_id)
    assert (again.status, again.error, again.error_code) == (
        "failed",
        "bad grid",
        "InvalidParameterValue",
    )


def test_unknown_job_is_not_found(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(NoSuchJob) as info:
        store.get("00000000-0000-0000-0000-000000000000")
    assert info.value.status == 404
    with pytest.raises(NoSuchJob):
        store.mark_running("missing")


def test_restart_recovery_fails_unfinished_and_keeps_finished(tmp_path: Path) -> None:
    settings = processing_settings(tmp_path / "var")
    store = job_store(settings.database_url)
    queued = store.create("echo", "1.0.0", "wps", {})
    running = store.create("echo", "1.0.0", "ogcapi", {})
    store.mark_running(running.job_id)
    finished = store.create("echo", "1.0.0", "ogcapi", {})
    store.mark_successful(finished.job_id, {"message": JobOutput.literal("kept", "string")})
    assert recover_interrupted(settings) == 2
    for job_id in (queued.job_id, running.job_id):
        job = store.get(job_id)
        assert (job.status, job.error) == ("failed", INTERRUPTED)
    kept = store.get(finished.job_id)
    assert (kept.status, kept.outputs) == (
        "successful",
        {"message": JobOutput.literal("kept", "string")},
    )


def test_job_progress_only_advances(tmp_path: Path) -> None:
    """A processor reports 100 % "done", then the executor 95 % "publishing": the
    status a client polls must not jump back."""
    from ogcsdl.jobs.executor import JobContext

    store = _store(tmp_path)
    job = store.create("echo", "1.0.0", "ogcapi", {})
    assert store.mark_running(job.job_id)
    context = JobContext(store, job.job_id)
    seen = []
    for percent, message in ((10, "reading"), (60, "growing"), (100, "done"), (95, "publishing")):
        context.progress(percent, message)
        seen.append((store.get(job.job_id).progress, store.get(job.job_id).message))
    assert [p for p, _ in seen] == [10, 60, 99, 99]
    assert seen[-1][1] == "publishing"  # the message still says what happens now
