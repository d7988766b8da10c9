"""Full-tile processors through the job interface, against reading the same inputs.

For each case (cloud-mask with its default method, flood-mapping on S1, change-detection
on two optical dates) the inputs are written as synthetic scenes, ingested by the suite's
own pipeline (analysis-ready COGs + records), then run as jobs by ``JobRunner`` on a Dask
LocalCluster with 1 and with 2 worker processes (1 thread each, as the suite's default).
The baseline, measured right before each job run: rasterio reading every band of the
same COGs (block by block, as the job reads them). Printed: wall time, ratio to the read
time, Mpx/s, peak RSS over the workers, the workers' CPU seconds against the read's
(the figure that holds on a busy shared machine), the 2-worker speed-up, and per phase
of the job (as its status messages name them) the seconds no worker computed anything
("serial": the job's own driver at work, e.g. publishing, or waiting) and, with more
than one worker, the seconds not every worker computed ("idle worker"): the time that
keeps a second worker from halving the wall time (Amdahl), and a figure that the
machine's load barely changes. A summary table ends the run.

    nice -n 10 .venv/bin/python -m benchmarks.processors [--size 10980] [--only cloud flood]
        [--data DIR]  (keeps the ingested inputs in DIR and reuses them in later runs)

Goals (issue 10): ratio <= 2, peak worker RSS < 4 GiB, 2 workers >= 1.7x faster than 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin
from rasterio.windows import Window

from benchmarks.serial_time import Phase, busy_intervals, phase_report

S2_SIX = ["B02", "B03", "B04", "B08", "B11", "B12"]
VEGETATION = np.array([500, 800, 500, 3500, 1800, 900], dtype=np.float32)
CLOUD = np.array([5500, 5200, 5000, 5000, 4500, 3500], dtype=np.float32)
SHADOW = np.array([300, 300, 200, 800, 500, 300], dtype=np.float32)
BLOCK = 1024


def optical_block(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """Vegetation with noise, a few round clouds and their shadows (uint16 DN)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    img = VEGETATION[:, None, None] + 40 * rng.standard_normal((6, h, w), dtype=np.float32)
    yy, xx = np.ogrid[:h, :w]
    for _ in range(3):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(20, 120)
        img[:, (yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = CLOUD[:, None]
        img[:, (yy - cy + r + 30) ** 2 + (xx - cx + 20) ** 2 < r * r] = SHADOW[:, None]
    return img.clip(1, 65535).astype(np.uint16)


def sar_block(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """VV/VH dB with gamma speckle: land around -8/-15 dB, some dark water patches."""
    rng = np.random.default_rng(seed)
    h, w = shape
    vv = np.full((h, w), -8.0, dtype=np.float32)
    yy, xx = np.ogrid[:h, :w]
    for _ in range(4):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(30, 200)
        vv[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = -21.0
    speckle = 10 * np.log10(rng.gamma(4.4, 1 / 4.4, (2, h, w)).astype(np.float32))
    return np.stack([vv, vv - 7]) + speckle


# Acquisition times (TIFFTAG_DATETIME, which ingest reads): without them a scene's time
# is its file's mtime, so the sun position cloud-mask derives from it, and its
# statistics' digest, changed with every run that wrote new inputs.
ACQUIRED = {"before": "2024:06:01 10:30:00", "after": "2024:06:21 10:30:00"}
SAR_ACQUIRED = "2024:06:21 05:30:00"


def write_cog(path: Path, size: int, kind: str, seed: int) -> Path:
    """A synthetic scene written block by block (never whole in memory), then a COG,
    acquired at its fixed time (:data:`ACQUIRED` by file name)."""
    bands, dtype = (6, "uint16") if kind == "optical" else (2, "float32")
    make = optical_block if kind == "optical" else sar_block
    names = S2_SIX if kind == "optical" else ["VV", "VH"]
    staging = path.with_suffix(".staging.tif")
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": bands,
        "dtype": dtype,
        "crs": "EPSG:32633",
        "transform": from_origin(600000, 6600000, 10, 10),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "nodata": 0 if kind == "optical" else None,
    }
    with rasterio.open(staging, "w", **profile) as dst:
        for row in range(0, size, BLOCK):
            for col in range(0, size, BLOCK):
                h, w = min(BLOCK, size - row), min(BLOCK, size - col)
                dst.write(make(seed + row * 7 + col, (h, w)), window=Window(col, row, w, h))
        for index, name in enumerate(names, start=1):
            dst.set_band_description(index, name)
        dst.update_tags(TIFFTAG_DATETIME=ACQUIRED.get(path.stem, SAR_ACQUIRED))
    rasterio.shutil.copy(staging, path, driver="COG", compress="DEFLATE", blocksize=512)
    staging.unlink()
    return path


def read_time(paths: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds to read every band of the files with rasterio, block row by
    block row."""
    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        with rasterio.open(path) as src:
            for row in range(0, src.height, BLOCK):
                src.read(window=Window(0, row, src.width, min(BLOCK, src.height - row)))
    return time.perf_counter() - started, time.process_time() - cpu


def _worker_peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _worker_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _follow(runner: Any, job_id: str, started: float) -> list[Phase]:
    """Poll the job's status (as a client would) until it ends: each phase it reported
    (its message and when it was seen to start and end)."""
    phases: list[Phase] = []
    last_message, since = "", started
    while True:
        job = runner.store.get(job_id)
        now = time.time()
        if job.message != last_message or job.is_finished:
            if last_message:
                phases.append((last_message, since, now))
            last_message, since = job.message or "", now
        if job.is_finished or now - started > 7200:
            return phases
        time.sleep(0.05)


def output_digest(settings: Any, job: Any) -> str:
    """Short SHA-256s of every output of a finished job: the pixels (and grid) of its
    raster outputs as published, overviews included, the values of the others. Equal
    digests before and after a speed change say the outputs stayed bit-identical."""
    from ogcsdl.catalogue.factory import product_store

    parts = []
    for name, output in sorted((job.outputs or {}).items()):
        digest = hashlib.sha256()
        if output.kind == "raster" and output.product_id:
            record = product_store(settings).get(output.product_id)
            with rasterio.open(record.file_path) as src:
                digest.update(repr((src.dtypes, src.shape, tuple(src.transform))).encode())
                digest.update(src.read().tobytes())
                levels = len(src.overviews(1))
            for level in range(levels):  # what tiles and zoomed-out reads show
                with rasterio.open(record.file_path, overview_level=level) as src:
                    digest.update(src.read().tobytes())
        else:
            value = output.value
            if output.file:  # a large document kept as a file
                value = json.loads(Path(output.file).read_text(encoding="utf-8"))
            digest.update(json.dumps(value, sort_keys=True).encode())
        parts.append(f"{name}:{digest.hexdigest()[:10]}")
    return " ".join(parts)


def run_job(
    settings: Any, workers: int, process: str, inputs: dict[str, Any]
) -> tuple[float, float, float, str, str, dict[str, float]]:
    """(wall seconds, peak worker RSS in GiB, worker CPU seconds, status, output digest
    (:func:`output_digest`), serial seconds per phase (:func:`phase_report`)) of one job
    on a fresh cluster. CPU seconds are summed over the workers (the scheduler's are
    not): on a shared machine they say what the job cost when wall times say more about
    the neighbours."""
    from distributed import Client, LocalCluster, get_task_stream

    from ogcsdl.jobs.executor import JobRunner

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        memory_limit="6GiB",
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    )
    try:
        job_settings = settings.model_copy(
            update={
                "cluster": settings.cluster.model_copy(
                    update={"scheduler_address": cluster.scheduler_address}
                )
            }
        )
        runner = JobRunner(job_settings)
        with Client(cluster, set_as_default=False) as client:
            client.run(lambda: __import__("processes.registry"))  # imports are not the job
            assert runner.client is not None  # nor is connecting a front end to the cluster
            cpu_before = sum(client.run(_worker_cpu_s).values())
            with get_task_stream(client) as stream:
                started = time.time()
                job = runner.start(process, inputs, "ogcapi")
                phases = _follow(runner, job.job_id, started)
                finished = runner.store.get(job.job_id)
                ended = time.time()
            cpu = sum(client.run(_worker_cpu_s).values()) - cpu_before
            peak = max(client.run(_worker_peak_rss).values()) / 1024**3
        runner.close()
        status = finished.status if finished.status == "successful" else finished.message
        intervals = busy_intervals(stream.data, job.job_id)
        line, serial = phase_report(phases, intervals, workers, started, ended)
        print(f"  phases: {line}", flush=True)
        return ended - started, peak, cpu, str(status), output_digest(settings, finished), serial
    finally:
        cluster.close()


def _summary(rows: list[dict[str, Any]]) -> None:
    """The table to compare runs by: per case and worker count wall, read, their ratio,
    speed-up over one worker, peak RSS, CPU, the load and the serial seconds by phase."""
    print("\nsummary (serial: seconds no worker computed, by job phase)")
    print(
        f"{'case':17s} {'w':>2s} {'wall s':>7s} {'read s':>6s} {'wall/read':>9s} {'vs 1w':>6s} "
        f"{'RSS GiB':>7s} {'CPU s':>6s} {'load':>5s} {'serial s':>8s}  serial by phase"
    )
    walls = {(r["process"], r["workers"]): r["wall"] for r in rows}
    for r in rows:
        one = walls.get((r["process"], 1))
        speedup = f"{one / r['wall']:5.2f}x" if one and r["workers"] != 1 else "     -"
        serial = r["serial"]
        biggest = sorted(serial.items(), key=lambda kv: -kv[1])
        by_phase = ", ".join(f"{name} {sec:.1f}" for name, sec in biggest if sec >= 0.05)
        print(
            f"{r['process']:17s} {r['workers']:2d} {r['wall']:7.1f} {r['read']:6.1f} "
            f"{r['wall'] / r['read']:9.2f} {speedup:>6s} {r['peak']:7.2f} {r['cpu']:6.1f} "
            f"{r['load']:5.1f} {sum(serial.values()):8.1f}  {by_phase}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=10980, help="raster side (pixels)")
    parser.add_argument(
        "--only", nargs="*", choices=("cloud", "flood", "change"), help="cases (default: all)"
    )
    parser.add_argument("--workers", nargs="*", type=int, default=[1, 2])
    parser.add_argument(
        "--data",
        type=Path,
        help="keep the ingested inputs (and the job outputs) in this directory and reuse "
        "them in later runs of the same size (default: a temporary directory)",
    )
    args = parser.parse_args()

    from ogcsdl.catalogue.factory import product_store
    from ogcsdl.config import load_settings
    from ogcsdl.ingest.pipeline import ingest_product
    from ogcsdl.jobs.cluster import quiet_workers
    from ogcsdl.schema import create_schema

    quiet_workers()  # the workers as the suite's embedded cluster runs them

    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        root = args.data / str(args.size) if args.data else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        settings = load_settings(None, data_dir=str(root / "var"))
        settings.ensure_dirs()
        create_schema(settings)
        known_file = root / "inputs.json"
        known = json.loads(known_file.read_text()) if known_file.exists() else {}
        products: dict[str, Any] = {}

        def product(name: str, kind: str, seed: int) -> Any:
            if name not in products:
                if name in known:
                    products[name] = product_store(settings).get(known[name])
                else:
                    path = write_cog(root / f"{name}.tif", args.size, kind, seed)
                    products[name] = ingest_product(settings, path)
                    known[name] = products[name].identifier
                    known_file.write_text(json.dumps(known))
            return products[name]

        cases = {
            "cloud": ("cloud-mask", {"product": ("after", "optical", 0)}),
            "flood": ("flood-mapping", {"s1": ("s1", "sar", 3)}),
            "change": (
                "change-detection",
                {"before": ("before", "optical", 500_000), "after": ("after", "optical", 0)},
            ),
        }
        mpx = args.size * args.size / 1e6
        print(f"{args.size} x {args.size} px ({mpx:.0f} Mpx) per input, jobs via JobRunner")
        rows: list[dict[str, Any]] = []
        for key, (process, spec) in cases.items():
            if args.only and key not in args.only:
                continue
            records = {name: product(*value) for name, value in spec.items()}
            inputs = {name: record.identifier for name, record in records.items()}
            paths = [record.file_path for record in records.values()]
            timings = {}
            for workers in args.workers:
                read_s, read_cpu = read_time(paths)  # beside each run: the load changes
                load = os.getloadavg()[0]
                wall, peak, cpu, status, digest, serial = run_job(
                    settings, workers, process, inputs
                )
                timings[workers] = wall
                rows.append(
                    {
                        "process": process,
                        "workers": workers,
                        "wall": wall,
                        "read": read_s,
                        "peak": peak,
                        "cpu": cpu,
                        "load": max(load, os.getloadavg()[0]),
                        "serial": serial,
                    }
                )
                print(
                    f"{process:17s} {workers} worker(s): {wall:7.1f} s, read {read_s:6.1f} s, "
                    f"ratio {wall / read_s:5.2f}, {mpx / wall:6.2f} Mpx/s, peak worker RSS "
                    f"{peak:.2f} GiB, worker CPU {cpu:6.1f} s (read CPU {read_cpu:5.1f} s, "
                    f"ratio {cpu / read_cpu:5.2f}), serial {sum(serial.values()):.1f} s, "
                    f"load {load:.1f}, {status}, outputs {digest}",
                    flush=True,
                )
            if 1 in timings and 2 in timings:
                print(f"{process:17s} speed-up 2 vs 1 worker: {timings[1] / timings[2]:.2f}x")
        _summary(rows)


if __name__ == "__main__":
    main()
