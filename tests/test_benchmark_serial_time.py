"""The serial-time accounting of ``benchmarks.processors`` (benchmarks/serial_time.py):
the figures issue 10's 2-vs-1 analysis rests on, checked on a hand-made task stream."""

from __future__ import annotations

import pytest

from benchmarks.serial_time import busy_intervals, idle_seconds, phase_report


def _task(key: str, worker: str, *spans: tuple[str, float, float]) -> dict[str, object]:
    startstops = [{"action": a, "start": b, "stop": c} for a, b, c in spans]
    return {"key": key, "worker": worker, "startstops": startstops}


STREAM = [
    _task("job-1", "A", ("compute", 0.0, 10.0)),  # the job's own steering task
    _task("x", "A", ("transfer", 0.5, 1.0), ("compute", 1.0, 4.0)),
    _task("y", "A", ("compute", 6.0, 8.0)),
    _task("z", "B", ("compute", 3.0, 5.0)),
    _task("w", "B", ("compute", 9.0, 12.0)),  # runs past the window
]


def test_busy_intervals_leave_out_the_job_task_and_transfers() -> None:
    assert sorted(map(sorted, busy_intervals(STREAM, "job-1"))) == [
        [(1.0, 4.0), (6.0, 8.0)],
        [(3.0, 5.0), (9.0, 12.0)],
    ]


def test_seconds_with_no_worker_and_with_an_idle_worker() -> None:
    intervals = busy_intervals(STREAM, "job-1")
    # none busy: 0-1, 5-6, 8-9; one busy: 1-3, 4-5, 6-8, 9-10
    assert idle_seconds(intervals, 2, 0.0, 10.0) == pytest.approx((3.0, 9.0))
    assert idle_seconds(intervals, 1, 0.0, 10.0) == pytest.approx((3.0, 3.0))
    line, serial = phase_report(
        [("reading", 0.0, 5.0), ("publishing", 5.0, 10.0), ("reading", 5.0, 6.0)],
        intervals,
        2,
        0.0,
        10.0,
    )
    assert serial == pytest.approx({"reading": 2.0, "publishing": 2.0})
    assert line.startswith("reading 5.0 s (serial 1.0, idle worker 4.0)")
