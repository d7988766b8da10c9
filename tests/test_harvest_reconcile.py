"""Remote deletions (reconciliation) in the harvest runner, without servers: the remote
catalogue is a scripted harvester (the outside world); the store, the ownership state
and the runner are the real ones. The live round trip with a second instance is in
``test_harvest_live.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogcsdl.catalogue.factory import product_store
from ogcsdl.config import Settings
from ogcsdl.harvest import runner
from ogcsdl.harvest.runner import run_harvest
from ogcsdl.harvest.state import HarvestState
from ogcsdl.schema import create_schema
from tests.harvest_support import OTHER, SOURCE, TEN, ScriptedRemote
from tests.processing_support import tiny_product


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "var")
    settings.ensure_dirs()
    create_schema(settings)
    return settings


def _harvest(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    remote: ScriptedRemote,
    **options: object,
) -> runner.HarvestResult:
    monkeypatch.setitem(runner.HARVESTERS, "stac", remote)
    return run_harvest(settings, remote.source, **options)  # type: ignore[arg-type]


def _ids(settings: Settings) -> set[str]:
    return {r.identifier for r in product_store(settings).list(include_remote=True)}


def test_a_record_deleted_at_the_source_goes_and_nothing_else(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tiny_product(settings, "LOCAL-1")
    product_store(settings).upsert(local)
    assert _harvest(settings, monkeypatch, ScriptedRemote(OTHER, ["OTHER-1"])).ok
    assert _harvest(settings, monkeypatch, ScriptedRemote(SOURCE, TEN)).added == 10

    # S2-03 deleted at the source: an unfiltered run is a complete listing.
    result = _harvest(settings, monkeypatch, ScriptedRemote(SOURCE, TEN[:3] + TEN[4:]))
    assert result.ok and result.listed and result.deleted == 1, result
    assert _ids(settings) == {"LOCAL-1", "OTHER-1", *TEN} - {"S2-03"}
    assert "S2-03" not in HarvestState(settings.database_url).owned(SOURCE.name)
    state = HarvestState(settings.database_url).get(SOURCE.name)
    assert state is not None and state.last_full is not None and state.records == 9


@pytest.mark.parametrize(
    ("held", "claimed", "why"),
    [
        ([], 0, "no longer lists 10 of our 10"),  # an outage answering "0 results"
        (TEN[:2], None, "no longer lists 8 of our 10"),  # a partial archive
        (TEN[:4], 10, "said 10 match but listed 4"),  # pages missing
    ],
)
def test_empty_partial_or_short_listings_delete_nothing(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    held: list[str],
    claimed: int | None,
    why: str,
) -> None:
    assert _harvest(settings, monkeypatch, ScriptedRemote(SOURCE, TEN)).added == 10
    result = _harvest(
        settings, monkeypatch, ScriptedRemote(SOURCE, held, claimed=claimed), full=True
    )
    assert result.ok and result.deleted == 0
    assert result.deletions_refused is not None and why in result.deletions_refused
    assert _ids(settings) == set(TEN)
    kept = HarvestState(settings.database_url).get(SOURCE.name)  # shown by harvest --list
    assert kept is not None and kept.failures == 0
    assert kept.last_error is not None and why in kept.last_error

    if claimed is None:  # the operator confirms the source really removed them
        forced = _harvest(
            settings, monkeypatch, ScriptedRemote(SOURCE, held), full=True, force_deletions=True
        )
        assert forced.deleted == 8 and _ids(settings) == set(held)
        cleared = HarvestState(settings.database_url).get(SOURCE.name)
        assert cleared is not None and cleared.last_error is None


def test_filtered_runs_list_the_source_only_when_a_full_run_is_due(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = ScriptedRemote(SOURCE, TEN, filters_since=True)
    assert _harvest(settings, monkeypatch, remote).added == 10  # first run: no since
    remote.held = TEN[1:]

    incremental = _harvest(settings, monkeypatch, remote, full_every_s=3600)
    assert remote.calls == ["pages", "pages"]  # listed completely a moment ago
    assert incremental.deleted == 0 and not incremental.listed
    assert "S2-00" in _ids(settings)

    reconciled = _harvest(settings, monkeypatch, remote, full=True)
    assert remote.calls[-2:] == ["pages", "listing"]
    assert reconciled.deleted == 1 and "S2-00" not in _ids(settings)


def test_a_listing_that_breaks_off_deletes_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = ScriptedRemote(SOURCE, TEN, filters_since=True)
    _harvest(settings, monkeypatch, remote)
    remote.held, remote.listing_fails = TEN[:9], True
    result = _harvest(settings, monkeypatch, remote, full=True)
    assert not result.ok and "connection reset" in (result.error or "")
    assert result.deleted == 0 and _ids(settings) == set(TEN)


def test_a_local_product_that_took_an_identifier_over_is_never_deleted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _harvest(settings, monkeypatch, ScriptedRemote(SOURCE, TEN)).added == 10
    product_store(settings).upsert(tiny_product(settings, "S2-05"))  # ingested locally
    result = _harvest(settings, monkeypatch, ScriptedRemote(SOURCE, TEN[:5] + TEN[6:]))
    assert result.deleted == 0 and "S2-05" in _ids(settings)
    assert product_store(settings).get("S2-05").is_local
