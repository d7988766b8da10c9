"""Records a remote sends that our stores cannot hold as they are: text XML cannot carry
(NUL and other control characters, legal in STAC's JSON), free text longer than a
B-tree entry (a national catalogue's multi-kilobyte abstract). The harvest keeps every
record it can (text cleaned, long text stored whole), rejects only what it cannot with
a reason, and never fails the run or the other records of the page. The remote is a
scripted harvester (the outside world); store, projection, state and runner are real,
on SQLite and on PostGIS with pycsw's own ``records`` table."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.projection import RECORDS_TABLE
from ogcsdl.catalogue.pycsw_setup import ensure_records_table
from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.db import connect
from ogcsdl.harvest import runner
from ogcsdl.harvest.model import HarvestSource, Page, RejectedEntry, remote_record
from ogcsdl.harvest.runner import run_harvest
from ogcsdl.harvest.state import HarvestState
from ogcsdl.schema import create_schema
from tests.catalogue_fixtures import CATALOGUE_PYTHON, require_catalogue_env
from tests.harvest_support import SOURCE
from tests.postgis import private_database

# Incompressible, so no page compression brings it under PostgreSQL's B-tree entry limit.
_RNG = random.Random(3)
LONG_ABSTRACT = "".join(_RNG.choice(string.ascii_letters + " ") for _ in range(12_000))


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    require_catalogue_env()

    def make(url: str | None) -> Settings:
        settings = Settings(
            data_dir=tmp_path / "var",
            database={"url": url},
            catalogue={"python": str(CATALOGUE_PYTHON)},
        )
        settings.ensure_dirs()
        create_schema(settings)
        ensure_records_table(settings)  # pycsw's own table, with pycsw's own indexes
        return settings

    if request.param == "sqlite":
        yield make(None)
        return
    with private_database(request.getfixturevalue("postgis_url"), "hostile") as url:
        yield make(url)


def hostile(identifier: str, **fields: Any) -> ProductRecord:
    """What a protocol reader builds from a remote entry (``remote_record``)."""
    day = datetime(2024, 6, 1, tzinfo=UTC)
    return remote_record(
        SOURCE,
        identifier=identifier,
        collection="sentinel-2-l1c",
        start=day,
        end=day,
        bbox=(17.0, 59.0, 18.0, 60.0),
        updated=day,
        **{"title": identifier, **fields},
    )


def test_an_identifier_xml_cannot_carry_is_rejected() -> None:
    with pytest.raises(RejectedEntry, match="identifier"):
        hostile("S2\x00A")


class HostileRemote:
    def __init__(self) -> None:
        self.records = [
            hostile("GOOD-1"),
            hostile("NUL-TITLE", title="Sentinel-2\x00 L1C"),
            hostile("CONTROL", abstract="bell \x07 and escape \x1b", keywords=["a\x00b"]),
            hostile("LONG-ABSTRACT", abstract=LONG_ABSTRACT),
            hostile("GOOD-2"),
        ]

    def pages(self, source: HarvestSource, since: datetime | None, settings: Settings):
        yield Page(
            list(self.records),
            matched=len(self.records),
            seen=[r.identifier for r in self.records],
        )

    def listing(self, source: HarvestSource, settings: Settings):
        yield from self.pages(source, None, settings)


def test_hostile_text_is_cleaned_or_stored_and_the_page_lands(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = HostileRemote()
    monkeypatch.setitem(runner.HARVESTERS, "stac", remote)
    result = run_harvest(settings, SOURCE)
    assert result.ok, result.error
    assert result.added == 5 and not result.rejected, result
    held = {r.identifier: r for r in product_store(settings).list(include_remote=True)}
    assert set(held) == {r.identifier for r in remote.records}
    assert held["NUL-TITLE"].title == "Sentinel-2 L1C"
    assert held["CONTROL"].abstract == "bell  and escape " and held["CONTROL"].keywords == ["ab"]
    assert held["LONG-ABSTRACT"].abstract == LONG_ABSTRACT  # whole, not cut
    with connect(settings.database_url) as conn:
        rows = conn.query(f"SELECT identifier, abstract FROM {RECORDS_TABLE}")
    catalogued = {str(row[0]): row[1] for row in rows}
    assert set(catalogued) == set(held)  # and pycsw serves every one of them
    assert catalogued["LONG-ABSTRACT"] == LONG_ABSTRACT


def test_a_record_the_database_refuses_is_rejected_and_the_rest_of_its_page_lands(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A title no B-tree entry can hold (pycsw sorts by title, so its index stays): on
    PostGIS that record is rejected with the database's reason, the others land."""
    long_title = "".join(_RNG.choice(string.ascii_letters) for _ in range(9000))
    remote = HostileRemote()
    remote.records = [hostile("KEEP-1"), hostile("HUGE-TITLE", title=long_title), hostile("KEEP-2")]
    monkeypatch.setitem(runner.HARVESTERS, "stac", remote)
    result = run_harvest(settings, SOURCE)
    assert result.ok, result.error
    held = {r.identifier for r in product_store(settings).list(include_remote=True)}
    assert {"KEEP-1", "KEEP-2"} <= held
    if settings.database_url.startswith("sqlite"):  # SQLite's B-trees hold any length
        assert result.added == 3 and not result.rejected and "HUGE-TITLE" in held
        return
    assert result.added == 2 and "HUGE-TITLE" not in held, result
    (why,) = result.rejected
    assert why.startswith("HUGE-TITLE: the catalogue cannot store it (") and "index" in why
    assert [identifier for identifier, _ in result.inserted] == ["KEEP-1", "KEEP-2"]
    owned = HarvestState(settings.database_url).owned(SOURCE.name)
    assert sorted(owned) == ["KEEP-1", "KEEP-2"]  # nothing half-written for the refused one
