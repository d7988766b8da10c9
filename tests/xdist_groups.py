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

SERVER_FIXTURES = ("suite", "secured_suite", "catalogue", "dask_scheduler")


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
