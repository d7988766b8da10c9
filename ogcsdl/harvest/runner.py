"""Run one harvest of one source: fetch and parse a page, keep what is new or changed,
write it in one transaction (product store + pycsw projection + ownership), advance the
source's high-water mark only when the whole run succeeded.

A source that is down, slow or answers garbage raises :class:`SourceError` before
anything of that page is written; the failure is recorded with the next attempt time
(exponential backoff) and existing records are left as they are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from tqdm import tqdm

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.db import Connection
from ogcsdl.errors import NotFound
from ogcsdl.harvest.csw import CswHarvester
from ogcsdl.harvest.model import Harvester, HarvestSource
from ogcsdl.harvest.opensearch import OpenSearchHarvester
from ogcsdl.harvest.stac import StacHarvester
from ogcsdl.harvest.state import HarvestState
from ogcsdl.harvest.transport import SourceError

log = logging.getLogger(__name__)

HARVESTERS: dict[str, Harvester] = {
    "csw": CswHarvester(),
    "opensearch": OpenSearchHarvester(),
    "stac": StacHarvester(),
}


@dataclass
class HarvestResult:
    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    pages: int = 0
    conflicts: list[str] = field(default_factory=list)  # ids held locally or by another source
    rejected: list[str] = field(default_factory=list)  # entries the source sent unusable
    error: str | None = None  # set when the run failed (earlier pages stay written)
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _select(
    source: HarvestSource,
    records: list[ProductRecord],
    known: dict[str, tuple[str | None, str | None]],
    result: HarvestResult,
) -> list[ProductRecord]:
    """The records of a page to write: new ones and changed ones of this source."""
    chosen: dict[str, ProductRecord] = {}
    for record in records:
        if record.identifier in known:
            owner, updated = known[record.identifier]
            if owner != source.name:
                result.conflicts.append(record.identifier)
                continue
            if updated == record.updated.isoformat():
                result.unchanged += 1
                continue
            result.updated += 1
        else:
            result.added += 1
        chosen[record.identifier] = record
    return list(chosen.values())


def run_harvest(
    settings: Settings,
    source: HarvestSource,
    *,
    since: datetime | None = None,
    interval_s: int | None = None,
    progress: bool = False,
) -> HarvestResult:
    """Harvest ``source`` once. ``since`` overrides the stored high-water mark."""
    store = product_store(settings)
    state = HarvestState(settings.database_url)
    state.register(source)
    previous = state.get(source.name)
    since = since or (previous.high_water if previous else None)
    result = HarvestResult(source.name)
    high_water: datetime | None = None
    bar = tqdm(desc=f"harvest {source.name}", unit="record", disable=not progress)
    try:
        for page in HARVESTERS[source.protocol].pages(source, since, settings):
            result.pages += 1
            result.rejected.extend(page.rejected)
            if bar.total is None and page.matched is not None:
                bar.total = page.matched
            known = state.known(record.identifier for record in page.records)
            chosen = _select(source, page.records, known, result)

            def own(conn: Connection, chosen: list[ProductRecord] = chosen) -> None:
                state.own(conn, source.name, chosen)

            store.upsert_many(chosen, also=own)
            for record in page.records:
                if high_water is None or record.updated > high_water:
                    high_water = record.updated
            bar.update(len(page.records) + len(page.rejected))
    except SourceError as error:
        result.error = error.message
        result.retry_at = state.mark_failure(source.name, error.message, settings.harvest)
        log.warning("harvest of %s failed (retry at %s): %s", source.name, result.retry_at, error)
        return result
    finally:
        bar.close()
    state.mark_success(source.name, high_water, interval_s)
    log.info(
        "harvest of %s: %d added, %d updated, %d unchanged, %d conflicts, %d rejected",
        source.name,
        result.added,
        result.updated,
        result.unchanged,
        len(result.conflicts),
        len(result.rejected),
    )
    return result


def delete_source(settings: Settings, name: str) -> int:
    """Remove a source and every record it brought, in one transaction."""
    state = HarvestState(settings.database_url)
    if state.get(name) is None:
        raise NotFound(f"no harvest source named {name!r}", "source")
    identifiers = state.owned(name)
    store = product_store(settings)
    return store.delete_many(identifiers, also=lambda conn: state.forget(conn, name))
