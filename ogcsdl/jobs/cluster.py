"""The embedded Dask cluster: a child process of the suite running a LocalCluster.

``python -m ogcsdl.jobs.cluster --config X`` starts the scheduler on
``cluster.port`` with ``cluster.workers`` worker processes and runs until SIGTERM.
With ``cluster.scheduler_address`` set the suite uses that external cluster instead.

Restart recovery (embedded only): when the embedded cluster starts, any job still
``accepted`` or ``running`` in the store died with the previous cluster, so it is
marked ``failed`` with the reason "interrupted: the suite restarted" (not re-queued:
a processor may have side effects half done, and the user can resubmit). An external
cluster outlives the suite, so its jobs are left alone.

While the suite runs, :class:`JobWatchdog` (a thread of ``ogcsdl serve``) reconciles
every unfinished job with the scheduler, so no job stays ``running`` forever:

- a worker killed mid-job: Dask re-runs the task elsewhere and ``run_job`` marks the
  job failed (``WORKER_DIED``); if nothing re-runs it (no worker left, or the task
  erred with ``KilledWorker``), the watchdog fails it;
- a task the scheduler no longer knows (scheduler restarted, task cancelled by hand)
  fails after ``cluster.lost_job_grace_s`` with :data:`LOST`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ogcsdl.config import Settings, load_settings
from ogcsdl.jobs.store import ACCEPTED, job_store
from ogcsdl.server.children import ChildSpec

LOG = logging.getLogger(__name__)
INTERRUPTED = "interrupted: the suite restarted"
WORKER_DIED = (
    "the worker running this job stopped (killed or out of memory); the job was not "
    "re-run because it may have done part of its work: submit it again"
)
LOST = (
    "the processing cluster lost this job (its scheduler restarted or forgot the task); "
    "submit it again"
)
# Scheduler task states in which a job's task may legitimately be waiting or running.
_ALIVE = ("released", "waiting", "queued", "no-worker", "processing")


def recover_interrupted(settings: Settings) -> int:
    """Mark jobs left unfinished by a previous run failed; return how many."""
    return job_store(settings.database_url).fail_unfinished(INTERRUPTED)


def cluster_child(settings: Settings) -> ChildSpec | None:
    """The child process running the embedded cluster, or None for an external one.
    The supervisor passes the configuration path in ``OGCSDL_CONFIG``."""
    if settings.cluster.scheduler_address is not None:
        return None
    return ChildSpec(name="cluster", argv=[sys.executable, "-m", "ogcsdl.jobs.cluster"])


def cluster_workers(settings: Settings, timeout_s: float = 3.0) -> int:
    """How many workers the scheduler has (raises when it is unreachable).

    One ``identity`` RPC to the scheduler (a few ms), not a full Client, because
    /health calls it on every probe."""
    from distributed.core import rpc

    async def identity() -> dict[str, Any]:
        scheduler = rpc(settings.scheduler_address, timeout=timeout_s)
        try:
            info: dict[str, Any] = await asyncio.wait_for(
                scheduler.identity(n_workers=-1), timeout_s
            )
            return info
        finally:
            await scheduler.close_rpc()

    return len(asyncio.run(identity())["workers"])


def check_cluster(settings: Settings) -> None:
    """/health: the scheduler answers and has at least one worker."""
    if cluster_workers(settings) < 1:
        raise RuntimeError(f"the Dask scheduler at {settings.scheduler_address} has no workers")


def _task_states() -> Any:
    """A function for ``run_on_scheduler``: (state, how many workers died running it)
    of each key the scheduler knows. Built here so it is pickled by value: a scheduler
    that cannot import ogcsdl can still run it."""

    def states(dask_scheduler: Any, keys: list[str]) -> dict[str, tuple[str, int]]:
        return {
            key: (str(task.state), int(task.suspicious))
            for key in keys
            if (task := dask_scheduler.tasks.get(key)) is not None
        }

    return states


class JobWatchdog:
    """Reconciles unfinished jobs in the store with the scheduler's tasks (see above)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = job_store(settings.database_url)
        self._client: Any = None
        self._unknown_since: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _scheduler_states(self, keys: list[str]) -> dict[str, tuple[str, int]] | None:
        """States by key, or None when the scheduler cannot be asked right now."""
        from distributed import Client

        try:
            if self._client is None:
                self._client = Client(
                    self.settings.scheduler_address, timeout=5, set_as_default=False
                )
            states: dict[str, tuple[str, int]] = self._client.run_on_scheduler(
                _task_states(), keys=keys
            )
            return states
        except Exception:  # noqa: BLE001 - scheduler down: ask again on the next sweep
            LOG.warning("job watchdog: the scheduler cannot be reached", exc_info=True)
            self.close_client()
            return None

    def sweep(self) -> int:
        """One reconciliation; returns how many jobs it failed."""
        jobs = self.store.unfinished()
        if not jobs:
            self._unknown_since.clear()
            return 0
        states = self._scheduler_states([job.job_id for job in jobs])
        if states is None:
            return 0
        now = time.monotonic()
        failed = 0
        for job in jobs:
            state, deaths = states.get(job.job_id, ("", 0))
            reason = None
            if state == "erred":  # e.g. KilledWorker after distributed's allowed-failures
                reason = WORKER_DIED if deaths else LOST
            elif state == "processing" or (state in _ALIVE and job.status == ACCEPTED):
                self._unknown_since.pop(job.job_id, None)
            elif state in _ALIVE:
                reason = WORKER_DIED  # started, and now no worker is running it
            else:  # unknown to the scheduler, or finished there while unfinished here
                first = self._unknown_since.setdefault(job.job_id, now)
                if now - first >= self.settings.cluster.lost_job_grace_s:
                    reason = LOST
            if reason and self.store.mark_failed(job.job_id, reason):
                LOG.warning("job %s failed by the watchdog: %s", job.job_id, reason)
                self._unknown_since.pop(job.job_id, None)
                failed += 1
        return failed

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.cluster.watchdog_interval_s):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - the watchdog must outlive a bad sweep
                LOG.exception("job watchdog sweep failed")

    def start(self) -> JobWatchdog:
        self._thread = threading.Thread(target=self._loop, name="job-watchdog", daemon=True)
        self._thread.start()
        return self

    def close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close(timeout=2)
            except Exception:  # noqa: BLE001 - already broken
                LOG.debug("closing the watchdog's client failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.close_client()


def _load_registry_on_worker(settings_json: str) -> int:
    from ogcsdl.jobs import registry

    return len(registry.load(Settings(**json.loads(settings_json))).processors)


def _warm_up(cluster: object, settings: Settings) -> None:
    """Import the processors (s2cloudless, LightGBM, ...) on every worker now, so the
    first job does not pay seconds of imports."""
    from distributed import Client

    try:
        with Client(cluster, set_as_default=False) as client:
            client.run(_load_registry_on_worker, settings.model_dump_json())
    except Exception:  # noqa: BLE001 - a broken registry shows up in the jobs themselves
        LOG.exception("warming up the workers failed")


def compiled_model_cache(settings: Settings) -> None:
    """Point the workers' compiled-model cache (``processes.compiled_trees``) into the
    suite's cache directory unless ``OGCSDL_MODEL_CACHE`` says otherwise: it then lives
    and goes with the data directory, not in the service user's home (which may not be
    writable). Worker processes inherit the environment."""
    os.environ.setdefault("OGCSDL_MODEL_CACHE", str(settings.cache_dir / "compiled-models"))


# Dask's statistical profiler samples every worker thread's stack 100 times a second and
# keeps the samples for its dashboard: about 10 % of a core per worker even when the
# cluster is idle, on machines whose cores the jobs' blocks need. Nothing of the suite
# reads those profiles, so the embedded cluster's workers run without it unless the
# environment says otherwise (DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=True).
QUIET_WORKERS = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}


def quiet_workers() -> None:
    """Workers started from this process after the call run without Dask's profiler
    (:data:`QUIET_WORKERS`; a value already in the environment wins). The worker
    processes inherit the environment, and this process's Dask configuration is
    re-read from it."""
    import dask.config

    for key, value in QUIET_WORKERS.items():
        os.environ.setdefault(key, value)
    dask.config.refresh()


def serve(settings: Settings) -> None:
    from distributed import LocalCluster

    settings.ensure_dirs()
    compiled_model_cache(settings)
    quiet_workers()
    recover_interrupted(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    cluster = LocalCluster(
        n_workers=settings.cluster.workers,
        threads_per_worker=settings.cluster.threads_per_worker,
        memory_limit=settings.cluster.memory_limit,
        host="127.0.0.1",
        scheduler_port=settings.cluster.port,
        dashboard_address=None,
        processes=True,
    )
    print(f"ogcsdl cluster: scheduler at {cluster.scheduler_address}", flush=True)
    _warm_up(cluster, settings)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        cluster.close(timeout=10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the embedded Dask cluster of the suite.")
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)
    serve(load_settings(args.config))


if __name__ == "__main__":
    main()
