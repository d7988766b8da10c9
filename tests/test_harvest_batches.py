"""The batched write path that ingest, harvest and the catalogue benchmark share
(``ProductStore.upsert_many`` + the pycsw projection + harvest ownership) and the
harvest runner's page prefetch: no batch may drop or duplicate a record, pages come in
order with a source's error where its page would have been. The remote catalogue is a
scripted harvester (the outside world); store, projection, state and runner are real."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.projection import RECORDS_TABLE
from ogcsdl.catalogue.pycsw_setup import ensure_records_table
from ogcsdl.config import Settings
from ogcsdl.db import connect
from ogcsdl.harvest import runner
from ogcsdl.harvest.model import Page
from ogcsdl.harvest.runner import ahead, run_harvest
from ogcsdl.harvest.state import OWNED, HarvestState
from ogcsdl.harvest.transport import SourceError
from ogcsdl.schema import create_schema
from tests.catalogue_fixtures import CATALOGUE_PYTHON, require_catalogue_env
from tests.harvest_support import SOURCE, ScriptedRemote, scripted_record


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A suite database with pycsw's own ``records`` table (made by pycsw)."""
    require_catalogue_env()
    settings = Settings(data_dir=tmp_path / "var", catalogue={"python": str(CATALOGUE_PYTHON)})
    settings.ensure_dirs()
    create_schema(settings)
    ensure_records_table(settings)
    return settings


def _counts(settings: Settings, table: str) -> Counter[str]:
    with connect(settings.database_url) as conn:
        return Counter(str(row[0]) for row in conn.query(f"SELECT identifier FROM {table}"))


def test_a_batch_writes_each_record_once_in_both_tables_the_last_copy_winning(
    settings: Settings,
) -> None:
    records = [scripted_record(SOURCE, f"B-{number:04d}") for number in range(700)]
    repeated = replace(records[5], title="second copy of B-0005")
    store = product_store(settings)
    store.upsert_many([*records, repeated])
    expected = Counter(record.identifier for record in records)
    assert _counts(settings, "ogcsdl_products") == expected
    assert _counts(settings, RECORDS_TABLE) == expected
    assert store.get("B-0005").title == "second copy of B-0005"
    with connect(settings.database_url) as conn:
        title = conn.query(f"SELECT title FROM {RECORDS_TABLE} WHERE identifier = ?", ("B-0005",))
    assert title == [("second copy of B-0005",)]

    store.upsert_many(records[:300])  # a second batch over the same records adds nothing
    assert _counts(settings, "ogcsdl_products") == expected
    assert _counts(settings, RECORDS_TABLE) == expected


def test_a_batched_delete_removes_every_record_from_both_tables(settings: Settings) -> None:
    """Deleting many records (a source, a reconciliation) goes in batches of statements,
    not one per record: all go from both tables, unknown ones are ignored and counted
    out, other records stay."""
    records = [scripted_record(SOURCE, f"D-{number:04d}") for number in range(1203)]
    store = product_store(settings)
    store.upsert_many(records)
    gone = [record.identifier for record in records[:1201]] + ["NOT-THERE"]
    assert store.delete_many(gone) == 1201
    kept = Counter(record.identifier for record in records[1201:])
    assert _counts(settings, "ogcsdl_products") == kept
    assert _counts(settings, RECORDS_TABLE) == kept


def test_a_paged_harvest_writes_every_record_once_and_owns_each(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = [f"H-{number:04d}" for number in range(301)]  # 101 pages of 3, the last short
    remote = ScriptedRemote(SOURCE, held)
    monkeypatch.setitem(runner.HARVESTERS, "stac", remote)
    result = run_harvest(settings, SOURCE)
    assert result.ok and result.added == 301 and result.pages == 101, result
    expected = Counter(held)
    assert _counts(settings, "ogcsdl_products") == expected
    assert _counts(settings, RECORDS_TABLE) == expected
    assert _counts(settings, OWNED) == expected
    assert sorted(HarvestState(settings.database_url).owned(SOURCE.name)) == held
    again = run_harvest(settings, SOURCE)
    assert again.ok and again.added == 0 and again.unchanged == 301, again
    assert _counts(settings, RECORDS_TABLE) == expected


def test_a_paged_harvest_holds_one_database_connection(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection per page cost PostgreSQL more than writing the page (a new server
    process loads its caches, PostGIS and the text-search dictionary again): a run opens
    one, whatever its number of pages, and still commits page by page."""
    held = [f"C-{number:03d}" for number in range(30)]  # 10 pages of 3
    monkeypatch.setitem(runner.HARVESTERS, "stac", ScriptedRemote(SOURCE, held))
    opened: list[object] = []
    real_connect = sqlite3.connect

    def counting_connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        opened.append(args[0])
        return real_connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite3, "connect", counting_connect)
    result = run_harvest(settings, SOURCE)
    assert result.ok and result.added == 30 and result.pages == 10, result
    assert len(opened) == 1, opened
    monkeypatch.setattr(sqlite3, "connect", real_connect)
    assert _counts(settings, RECORDS_TABLE) == Counter(held)  # committed, both tables
    assert _counts(settings, OWNED) == Counter(held)


def _pages(count: int, produced: list[int], fail_after: int | None = None) -> Iterator[Page]:
    for number in range(count):
        if fail_after is not None and number == fail_after:
            raise SourceError(f"page {number} answered garbage")
        produced.append(number)
        yield Page([scripted_record(SOURCE, f"P-{number}")], matched=count)


def test_prefetched_pages_come_in_order_and_an_error_after_the_pages_before() -> None:
    produced: list[int] = []
    got = [page.records[0].identifier for page in ahead(_pages(6, produced))]
    assert got == [f"P-{number}" for number in range(6)]

    seen: list[str] = []
    with pytest.raises(SourceError, match="page 2 answered garbage"):
        for page in ahead(_pages(6, [], fail_after=2)):
            seen.append(page.records[0].identifier)
    assert seen == ["P-0", "P-1"]


def test_prefetch_stops_when_the_writer_stops() -> None:
    produced: list[int] = []
    before = set(threading.enumerate())  # other tests' fetchers on this worker are not ours
    pages = ahead(_pages(50, produced))
    assert next(pages).records[0].identifier == "P-0"
    fetchers = [
        thread
        for thread in threading.enumerate()
        if thread.name == "harvest-fetch" and thread not in before
    ]
    assert len(fetchers) == 1  # this harvest's prefetch, in a thread of its own
    pages.close()  # the write of page 0 failed: the harvest ends here
    for thread in fetchers:
        thread.join(timeout=5)
    assert not any(thread.is_alive() for thread in fetchers)  # no thread left blocked
    assert len(produced) <= 3, produced  # the page written, one handed over, one fetching
