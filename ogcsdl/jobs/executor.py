"""Running jobs on Dask: the task a worker runs, and the front ends' handle on it.

The front end (a gunicorn worker) creates the job row, then submits :func:`run_job`
with ``key=job_id`` and ``fire_and_forget``: the job keeps running even if that gunicorn
worker exits. Everything a worker needs travels in the task (the settings as JSON); it
reports only through the job store.

Concurrency: a cluster-wide ``distributed.Semaphore`` (``processing.max_concurrent_jobs``
leases) bounds how many jobs run at once on any cluster, embedded or external; tasks
beyond that wait in Dask's queue. Dismissing a queued job cancels its Dask task; a
running job stops at its next ``progress()`` call (cooperative: a thread cannot be
killed safely).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ogcsdl.catalogue.factory import product_store
from ogcsdl.config import Settings
from ogcsdl.errors import OgcsdlError, ServiceUnavailable
from ogcsdl.ingest.writer import Publication, storage_error
from ogcsdl.jobs import registry as registry_module
from ogcsdl.jobs.cluster import WORKER_DIED
from ogcsdl.jobs.inputs import check_inputs, resolve_inputs
from ogcsdl.jobs.paths import WORKDIR_PREFIX
from ogcsdl.jobs.publishing import RasterWriter, source_ids, stage_outputs, updated_source_products
from ogcsdl.jobs.store import FAILED, RUNNING, Job, JobStore, job_store
from ogcsdl.publish import Lineage, observed_span
from processes.base import RasterOutput
from processes.errors import ProcessError

LOG = logging.getLogger(__name__)
SEMAPHORE_NAME = "ogcsdl-jobs"


class JobDismissed(OgcsdlError):
    code = "JobDismissed"
    status = 410


class JobContext:
    """What a processor sees of its job: progress reports that double as cancel points,
    and (``output_ready``, see :func:`processes.base.hand_over`) outputs taken early."""

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        take_output: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.store, self.job_id = store, job_id
        self._percent = 0.0
        self._take_output = take_output

    def output_ready(self, output_id: str, value: Any) -> None:
        if self._take_output is not None:
            self._take_output(output_id, value)

    def progress(self, percent: float, message: str = "") -> None:
        # only ever forward: a processor's "done" (100) comes before "publishing" (95)
        self._percent = max(self._percent, percent)
        if not self.store.set_progress(self.job_id, self._percent, message):
            raise JobDismissed(f"job {self.job_id} was dismissed")


_STORAGE_REASONS = {
    errno.EROFS: "the server's output storage is read-only",
    errno.ENOSPC: "no space left on the server's output storage",
    errno.EDQUOT: "the server's output storage quota is exhausted",
    errno.EACCES: "the server may not write to its output storage",
}


def storage_failure(exc: BaseException) -> str | None:
    """What a user is told when writing outputs failed (the cause, never the server's
    paths), or None when ``exc`` is not about storage."""
    reason = _STORAGE_REASONS.get(getattr(exc, "errno", None) or 0)
    if reason is None:  # GDAL's errors (rasterio) carry the C library's text, no errno
        text = str(exc)
        reason = next((r for e, r in _STORAGE_REASONS.items() if os.strerror(e) in text), None)
    if reason is None:
        return None
    return f"the job could not write its outputs: {reason}; an operator must fix it"


def _run_guarded(job_id: str, settings: Settings) -> str:
    store = job_store(settings.database_url)
    if not store.mark_running(job_id):
        return store.get(job_id).status  # dismissed while it waited in the queue
    job = store.get(job_id)
    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{job_id}-", dir=settings.data_dir))
    try:
        registry = registry_module.load(settings)
        processor = registry.get(job.process_id)
        description = processor.description
        inputs = resolve_inputs(registry, description, job.inputs, settings, workdir)
        products = product_store(settings)
        rasters = sum(isinstance(o, RasterOutput) for o in description.outputs)
        # The pool ends (its writes finished) before the publication does, so a failure
        # anywhere leaves no file being written behind.
        with (
            Publication(products) as publication,
            ThreadPoolExecutor(max(rasters, 1), thread_name_prefix="publish") as pool,
        ):
            writer = RasterWriter(publication, description, job_id, settings, pool)
            context = JobContext(store, job_id, writer.take)
            context.progress(1, "inputs resolved")
            produced = processor.run(inputs, context)
            context.progress(95, "publishing outputs")
            written = writer.written(produced)
            started = job.started or datetime.now(UTC)
            sources = source_ids(inputs)
            lineage = Lineage(
                job.process_id,
                job.process_version,
                job_id,
                job.inputs,
                sources,
                started,
                datetime.now(UTC),
                observed_span(products, sources),  # once, for every output
            )
            outputs, records = stage_outputs(
                produced, description, lineage, settings, publication, written
            )
            updates = updated_source_products(produced, description, sources, products)
            # Every output and source update at once, then the job: all or nothing.
            publication.commit([*records, *updates])
            if not store.mark_successful(job_id, outputs, "finished"):
                publication.withdraw()  # dismissed while publishing: nothing stays
    except JobDismissed:
        pass  # the store already says dismissed
    except OgcsdlError as exc:
        store.mark_failed(job_id, exc.message, exc.code)
    except ProcessError as exc:  # the processor's own error, e.g. inputs that do not fit
        error = registry_module.service_error(exc)
        store.mark_failed(job_id, error.message, error.code)
    except Exception as exc:  # a processor bug: keep the message, not the traceback
        full = storage_error(exc, settings.data_dir)
        if full is not None:
            store.mark_failed(job_id, full.message, full.code)
        else:
            LOG.exception("job %s failed", job_id)
            message = storage_failure(exc) or f"{exc.__class__.__name__}: {exc}"
            store.mark_failed(job_id, message, "NoApplicableCode")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return store.get(job_id).status


def run_job(job_id: str, settings_json: str) -> str:
    """The Dask task: run one job under the cluster-wide concurrency limit."""
    from distributed import Semaphore, secede

    # The job's task only steers: it leaves the worker's thread pool at once, so the
    # worker's threads run blocks (of this job and others), and jobs waiting for a
    # lease below hold no thread that a running job's blocks would need (with every
    # thread held by waiting jobs, running jobs could never finish: a deadlock).
    secede()
    settings = Settings(**json.loads(settings_json))
    store = JobStore(settings.database_url)
    if store.get(job_id).status == RUNNING:
        # Dask runs a key again only when the worker running it died (allowed-failures).
        store.mark_failed(job_id, WORKER_DIED)
        return FAILED
    # One limit per suite (per job database), so suites can share a cluster.
    name = f"{SEMAPHORE_NAME}-{hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]}"
    semaphore = Semaphore(max_leases=settings.processing.max_concurrent_jobs, name=name)
    with semaphore:
        return _run_guarded(job_id, settings)


_RUNNERS: dict[str, JobRunner] = {}
_RUNNERS_LOCK = threading.Lock()


def job_runner(settings: Settings) -> JobRunner:
    """The one runner (and so the one Dask client) of this process and configuration,
    shared by the WPS and OGC API - Processes front ends."""
    key = settings.model_dump_json()
    with _RUNNERS_LOCK:
        if key not in _RUNNERS:
            _RUNNERS[key] = JobRunner(settings)
        return _RUNNERS[key]


class JobRunner:
    """The front ends' handle: create, submit, wait for and dismiss jobs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = job_store(settings.database_url)
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        # Created lazily: gunicorn forks workers after the app is built, and a Dask
        # client's event-loop thread must not be inherited across fork.
        with self._lock:
            if self._client is None:
                from distributed import Client

                try:
                    self._client = Client(
                        self.settings.scheduler_address, timeout=10, set_as_default=False
                    )
                except OSError as exc:
                    raise ServiceUnavailable(
                        f"the processing cluster is not reachable: {exc}"
                    ) from None
            return self._client

    @property
    def registry(self) -> registry_module.Registry:
        return registry_module.load(self.settings)

    def start(
        self,
        process_id: str,
        raw_inputs: dict[str, Any],
        interface: str,
        request: dict[str, Any] | None = None,
        job_id: str | None = None,
        owner: str | None = None,
    ) -> Job:
        """Check the inputs, record the job, hand it to the cluster. Bad input raises
        before anything is stored. ``owner``: the user it belongs to (ogcsdl.security)."""
        processor = self.registry.get(process_id)
        description = processor.description
        inputs = check_inputs(self.registry, description, raw_inputs, self.settings)
        job = self.store.create(
            description.id, description.version, interface, inputs, request, job_id, owner
        )
        self.submit(job)
        return job

    def submit(self, job: Job) -> None:
        from distributed import fire_and_forget

        settings_json = self.settings.model_dump_json()
        try:
            future = self.client.submit(
                run_job, job.job_id, settings_json, key=job.job_id, pure=False
            )
        except Exception as exc:  # noqa: BLE001 - any failure to submit means the cluster is unusable
            self.store.mark_failed(job.job_id, f"could not submit to the cluster: {exc}")
            raise ServiceUnavailable("the processing cluster is not reachable") from None
        fire_and_forget(future)

    def wait(self, job_id: str, timeout_s: float | None = None) -> Job:
        """Poll the store (the authority, whichever worker runs the job) until finished."""
        deadline = time.monotonic() + (timeout_s or self.settings.processing.sync_timeout_s)
        delay = 0.02
        while True:
            job = self.store.get(job_id)
            if job.is_finished or time.monotonic() > deadline:
                return job
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def dismiss(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        self.store.mark_dismissed(job_id)
        if not job.is_finished:
            try:
                from distributed import Future

                self.client.cancel([Future(job_id, self.client)])
            except Exception:  # best effort: the store already says dismissed
                LOG.debug("cancel of %s on the cluster failed", job_id, exc_info=True)
        return self.store.get(job_id)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
