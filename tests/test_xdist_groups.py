"""The pytest-xdist groups of ``make test`` (tests/xdist_groups.py): a session server is
booted on one worker only, and a file's module fixtures once."""

from __future__ import annotations

from dataclasses import dataclass

from ogcsdl.config import PROJECT_ROOT
from tests.xdist_groups import LONGEST_FIRST, SERVER_FIXTURES, file_groups, longest_first


@dataclass
class Item:
    nodeid: str
    fixturenames: list[str]


def test_files_sharing_a_server_fixture_run_on_one_worker() -> None:
    items = [
        Item("tests/a.py::test_one", ["suite", "tmp_path"]),
        Item("tests/a.py::test_two", ["tmp_path"]),  # same file: same group
        Item("tests/b.py::test", ["tmp_path"]),
        Item("tests/c.py::test", ["suite", "catalogue"]),
        Item("tests/d.py::test[sqlite]", ["catalogue"]),  # joined to suite through c.py
        Item("tests/e.py::test", ["dask_scheduler"]),  # cheap to boot: not a server group
        Item("tests/f.py::test", ["secured_suite"]),
    ]
    groups = file_groups(items)  # type: ignore[arg-type]  # stand-ins for pytest.Item
    assert groups["tests/a.py"] == groups["tests/c.py"] == groups["tests/d.py"]
    assert groups["tests/b.py"] == "tests/b.py"  # its own group: module fixtures boot once
    assert groups["tests/e.py"] == "tests/e.py"
    others = {
        groups["tests/a.py"],
        groups["tests/b.py"],
        groups["tests/e.py"],
        groups["tests/f.py"],
    }
    assert len(others) == 4


def test_the_longest_groups_go_first_each_group_in_its_own_order() -> None:
    items = [
        Item("tests/a.py::test_one", ["tmp_path"]),
        Item("tests/test_demo.py::test_1", ["tmp_path"]),
        Item("tests/c.py::test_one", ["suite"]),
        Item("tests/a.py::test_two", ["tmp_path"]),
        Item("tests/test_demo.py::test_2", ["tmp_path"]),
        Item("tests/c.py::test_two", ["suite"]),
    ]
    groups = file_groups(items)  # type: ignore[arg-type]  # stand-ins for pytest.Item
    ordered = [item.nodeid for item in longest_first(items, groups)]  # type: ignore[arg-type]
    assert ordered == [
        "tests/c.py::test_one",  # the suite's group is the longest
        "tests/c.py::test_two",
        "tests/test_demo.py::test_1",
        "tests/test_demo.py::test_2",
        "tests/a.py::test_one",
        "tests/a.py::test_two",
    ]


def test_every_longest_group_still_exists() -> None:
    for name in LONGEST_FIRST:
        assert (
            name.startswith("fixture:")
            and name[8:] in SERVER_FIXTURES
            or (PROJECT_ROOT / name).is_file()
        ), name
