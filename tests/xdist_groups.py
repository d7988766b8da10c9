"""Which tests run together on one pytest-xdist worker (``make test`` runs two with
``--dist loadgroup``; the groups are set in conftest.py).

Session fixtures that boot servers (conftest.py, secured.py, catalogue_fixtures.py): every
file that uses one of them (directly or through another fixture) goes to one worker,
together with the other files sharing it, so each server boots once per run, not once
per worker, and its tests run in the order of a plain run (they share its state). Every
other file is a group of its own: its module fixtures boot once too."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

# (The external test Dask cluster, ``dask_scheduler``, boots in ~1.5 s: each worker may
# have its own, so its tests need not join the suite's already longest group.)
SERVER_FIXTURES = ("suite", "secured_suite", "catalogue")


def file_groups(items: Sequence[pytest.Item]) -> dict[str, str]:
    """The xdist group of each test file: files joined by the server fixtures they share."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    for item in items:
        path = item.nodeid.split("::")[0]
        for name in SERVER_FIXTURES:
            if name in getattr(item, "fixturenames", ()):
                parent[root(path)] = root(f"fixture:{name}")
    groups: dict[str, str] = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        top = root(path)
        groups[path] = top if top.startswith("fixture:") else path
    return groups


# The longest groups, longest first (seconds of one worker, measured in a full two-worker
# run: `pytest -n 2 --durations=0`). Started first, so that no worker is left running a
# long one alone at the end; xdist's own order (most tests first) put the one-test giants
# (the benchmark, the life cycle, the leave-one-city-out retraining) last.
LONGEST_FIRST = (
    "fixture:suite",  # ~130 s
    "tests/test_benchmark_catalogue.py",  # ~45 s
    "tests/test_lifecycle_live.py",  # ~45 s
    "tests/test_change_detection_realdata.py",  # ~30 s
    "tests/test_demo.py",
    "tests/test_harvest_live.py",
    "fixture:secured_suite",
    "fixture:catalogue",
    "tests/test_cloud_mask.py",
    "tests/test_processors_realdata.py",
    "tests/test_tiles_live.py",
    "tests/test_change_detection.py",
)


def longest_first(items: Sequence[pytest.Item], groups: dict[str, str]) -> list[pytest.Item]:
    """``items`` with the groups of LONGEST_FIRST moved to the front in that order; the
    order within a group, and of every other group, is kept."""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    return sorted(items, key=lambda item: rank.get(groups[item.nodeid.split("::")[0]], len(rank)))
