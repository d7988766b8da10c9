"""Where a job's wall time went, from Dask's task stream: per worker the intervals in
which it computed, and per job phase the seconds in which no worker computed ("serial":
the job's own driver at work, e.g. publishing, or waiting) and in which not every worker
did ("idle worker"). These are what keep a second worker from halving the wall time
(Amdahl), and a load on the machine barely changes them."""

from __future__ import annotations

from typing import Any

Phase = tuple[str, float, float]  # (status message, start, end) in time.time() seconds


def busy_intervals(task_stream: list[dict[str, Any]], skip_key: str) -> list[list[tuple]]:
    """Per worker: the (start, stop) intervals in which it computed a task (the job's own
    task, ``skip_key``, only steers and is left out), from Dask's task stream."""
    by_worker: dict[str, list[tuple[float, float]]] = {}
    for task in task_stream:
        if task["key"] == skip_key:
            continue
        for part in task["startstops"]:
            if part["action"] == "compute":
                by_worker.setdefault(task["worker"], []).append((part["start"], part["stop"]))
    return list(by_worker.values())


def idle_seconds(
    intervals: list[list[tuple]], workers: int, start: float, end: float
) -> tuple[float, float]:
    """(seconds within [start, end] in which no worker computed, seconds in which fewer
    than ``workers`` computed)."""
    events = [(max(a, start), 1) for w in intervals for a, b in w if b > start and a < end]
    events += [(min(b, end), -1) for w in intervals for a, b in w if b > start and a < end]
    events.sort()
    none = some_idle = 0.0
    busy, last = 0, start
    for moment, step in events:
        span = moment - last
        if busy == 0:
            none += span
        if busy < workers:
            some_idle += span
        busy, last = busy + step, moment
    span = end - last
    none += span if busy == 0 else 0.0
    some_idle += span if busy < workers else 0.0
    return none, some_idle


def phase_report(
    phases: list[Phase], intervals: list[list[tuple]], workers: int, started: float, ended: float
) -> tuple[str, dict[str, float]]:
    """One line per job: every phase's wall seconds with its serial (no worker busy)
    seconds and, with more workers, its idle-worker seconds; and the serial seconds
    summed per phase name."""
    phases = phases or [("job", started, ended)]
    serial: dict[str, float] = {}
    lines = []
    for message, a, b in phases:
        none, some = idle_seconds(intervals, workers, a, b)
        serial[message] = serial.get(message, 0.0) + none
        extra = f", idle worker {some:.1f}" if workers > 1 else ""
        lines.append(f"{message} {b - a:.1f} s (serial {none:.1f}{extra})")
    return "; ".join(lines), serial
