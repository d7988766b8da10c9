"""The embedded Dask cluster: a child process of the suite running a LocalCluster.

``python -m ogcsdl.jobs.cluster --config X`` starts the scheduler on
``cluster.port`` with ``cluster.workers`` worker processes and runs until SIGTERM.
With ``cluster.scheduler_address`` set the suite uses that external cluster instead.

Restart recovery (embedded only): when the embedded cluster starts, any job still
``accepted`` or ``running`` in the store died with the previous cluster, so it is
marked ``failed`` with the reason "interrupted: the suite restarted" (not re-queued:
a processor may have side effects half done, and the user can resubmit). An external
cluster outlives the suite, so its jobs are left alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ogcsdl.config import Settings, load_settings
from ogcsdl.jobs.store import job_store
from ogcsdl.server.children import ChildSpec

LOG = logging.getLogger(__name__)
INTERRUPTED = "interrupted: the suite restarted"


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


def serve(settings: Settings) -> None:
    from distributed import LocalCluster

    settings.ensure_dirs()
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
