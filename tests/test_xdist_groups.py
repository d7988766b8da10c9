"""The pytest-xdist groups of ``make test`` (tests/xdist_groups.py): a session server is
booted on one worker only, and a file's module fixtures once."""

from __future__ import annotations

from dataclasses import dataclass

from tests.xdist_groups import file_groups


@dataclass
class Item:
    nodeid: str
    fixturenames: list[str]


def test_files_sharing_a_server_fixture_run_on_one_worker() -> None:
    items = [
        Item("tests/a.py::test_one", ["suite", "tmp_path"]),
        Item("tests/a.py::test_two", ["tmp_path"]),  # same file: same group
        Item("tests/b.py::test", ["tmp_path"]),
        Item("tests/c.py::test", ["suite", "dask_scheduler"]),
        Item("tests/d.py::test", ["dask_scheduler"]),  # joined to suite through c.py
        Item("tests/e.py::test[sqlite]", ["catalogue"]),
        Item("tests/f.py::test", ["secured_suite"]),
    ]
    groups = file_groups(items)  # type: ignore[arg-type]  # stand-ins for pytest.Item
    assert groups["tests/a.py"] == groups["tests/c.py"] == groups["tests/d.py"]
    assert groups["tests/b.py"] == "tests/b.py"  # its own group: module fixtures boot once
    others = {
        groups["tests/a.py"],
        groups["tests/b.py"],
        groups["tests/e.py"],
        groups["tests/f.py"],
    }
    assert len(others) == 4
