"""Run one harvest of one source: fetch and parse a page, keep what is new or changed,
write it in one transaction (product store + pycsw projection + ownership), advance the
source's high-water mark only when the whole run succeeded.

A source that is down, slow or answers garbage raises :class:`SourceError` before
anything of that page is written; the failure is recorded with the next attempt time
(exponential backoff) and existing records are left as they are.

Remote deletions: a run that listed the whole source (no modification-date filter was
applied by the remote, or a reconciliation listing ran because ``--full`` was asked or
``full_every_s`` has passed) removes the records this source brought that the listing
no longer has — only when the listing ended without error and holds at least as many
identifiers as the source said match, and only up to ``harvest.max_delete_percent`` of
the source's records (a source in trouble that answers few or no records must not
empty our catalogue). Records of other sources and local products are never touched.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tqdm import tqdm

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.db import Connection, refused_values, session
from ogcsdl.errors import NotFound, redact_paths
from ogcsdl.harvest.csw import CswHarvester
from ogcsdl.harvest.iso import IsoDocumentHarvester
from ogcsdl.harvest.model import Harvester, HarvestSource, Page
from ogcsdl.harvest.opensearch import OpenSearchHarvester
from ogcsdl.harvest.stac import StacHarvester
from ogcsdl.harvest.state import HarvestState, SourceState
from ogcsdl.harvest.transport import SourceError

log = logging.getLogger(__name__)

HARVESTERS: dict[str, Harvester] = {
    "csw": CswHarvester(),
    "opensearch": OpenSearchHarvester(),
    "stac": StacHarvester(),
    "iso": IsoDocumentHarvester(),
}


@dataclass
class HarvestResult:
    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0  # records gone at the source, removed here
    pages: int = 0
    inserted: list[tuple[str, str]] = field(default_factory=list)  # (identifier, title)
    conflicts: list[str] = field(default_factory=list)  # ids held locally or by another source
    rejected: list[str] = field(default_factory=list)  # entries the source sent unusable
    listed: bool = False  # the run saw a complete listing of the source
    deletions_refused: str | None = None  # why remote deletions were not applied
    error: str | None = None  # set when the run failed (earlier pages stay written)
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def refuse(self, record: ProductRecord, error: BaseException) -> None:
        """``record`` was counted as added or updated but the catalogue refused it."""
        entry = (record.identifier, record.title)
        if entry in self.inserted:
            self.inserted.remove(entry)
            self.added -= 1
        else:
            self.updated -= 1
        reason = redact_paths(str(error).strip().splitlines()[0] if str(error).strip() else "")
        self.rejected.append(f"{record.identifier}: the catalogue cannot store it ({reason})")
        log.warning("harvest: %s", self.rejected[-1])


@dataclass
class _Listing:
    """What the pages of one pass showed: every identifier, and the remote's total."""

    seen: set[str] = field(default_factory=set)
    matched: int | None = None
    filtered: bool = False  # the remote applied a modification-date filter

    def add(self, page: Page) -> None:
        if self.matched is None and page.matched is not None:
            self.matched = page.matched  # the total when the paging began
        self.seen.update(page.seen)
        self.filtered = self.filtered or page.since_applied

    def incomplete(self) -> str | None:
        """Why this pass does not list the whole source (None: it does)."""
        if self.filtered:
            return "the pages were filtered by modification date"
        if self.matched is not None and len(self.seen) < self.matched:
            return f"the source said {self.matched} match but listed {len(self.seen)}"
        return None


def _refused(error: BaseException) -> bool:
    """A record the catalogue cannot store as it is (its ISO document cannot be built,
    the database refuses a value), as opposed to a database that is down."""
    return isinstance(error, ValueError) or refused_values(error)


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
        elif record.identifier not in chosen:
            result.added += 1
            result.inserted.append((record.identifier, record.title))
        chosen[record.identifier] = record
    return list(chosen.values())


def ahead(pages: Iterator[Page]) -> Iterator[Page]:
    """The pages of ``pages`` in order, the next one fetched and parsed in a thread while
    the caller writes the current one: the remote's answer time and our parsing overlap
    our database writes. An error of the source comes out where its page would have (the
    pages before it are written first, as without the thread); when the caller stops
    early the thread stops after the page it is fetching."""
    slot: queue.Queue[tuple[str, Page | BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: tuple[str, Page | BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                slot.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fetch_pages() -> None:
        try:
            for page in pages:
                if not hand_over(("page", page)):
                    return
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            hand_over(("error", error))
            return
        hand_over(("end", None))

    thread = threading.Thread(target=fetch_pages, name="harvest-fetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = slot.get()
            if kind == "end":
                return
            if isinstance(value, BaseException):
                raise value
            assert isinstance(value, Page)
            yield value
    finally:
        stop.set()


def _full_due(previous: SourceState | None, full_every_s: int | None) -> bool:
    if previous is None or full_every_s is None:
        return False
    if previous.last_full is None:
        return True
    return datetime.now(UTC) - previous.last_full >= timedelta(seconds=full_every_s)


def run_harvest(
    settings: Settings,
    source: HarvestSource,
    *,
    since: datetime | None = None,
    interval_s: int | None = None,
    full: bool = False,
    full_every_s: int | None = None,
    force_deletions: bool = False,
    progress: bool = False,
) -> HarvestResult:
    """Harvest ``source`` once. ``since`` overrides the stored high-water mark; ``full``
    (or ``full_every_s`` passed since the last complete listing) lists the whole source
    to apply remote deletions; ``force_deletions`` lifts the mass-deletion guard.

    The run holds one database connection: each page is still its own transaction, but
    not its own server process (see :func:`ogcsdl.db.session`)."""
    with session(settings.database_url) as conn:
        return _run(
            settings, source, conn, since, interval_s, full, full_every_s, force_deletions, progress
        )


def _run(
    settings: Settings,
    source: HarvestSource,
    conn: Connection,
    since: datetime | None,
    interval_s: int | None,
    full: bool,
    full_every_s: int | None,
    force_deletions: bool,
    progress: bool,
) -> HarvestResult:
    store = product_store(settings)
    state = HarvestState(settings.database_url)
    state.register(source, conn)
    previous = state.get(source.name, conn)
    since = since or (previous.high_water if previous else None)
    reconcile = full or _full_due(previous, full_every_s)
    harvester = HARVESTERS[source.protocol]
    result = HarvestResult(source.name)
    high_water: datetime | None = None
    bar = tqdm(desc=f"harvest {source.name}", unit="record", disable=not progress)

    def write(page: Page) -> None:
        nonlocal high_water
        result.pages += 1
        result.rejected.extend(page.rejected)
        if bar.total is None and page.matched is not None:
            bar.total = page.matched
        known = state.known((record.identifier for record in page.records), conn)
        chosen = _select(source, page.records, known, result)

        def write_records(records: list[ProductRecord]) -> None:
            store.upsert_many(
                records, also=lambda conn: state.own(conn, source.name, records), conn=conn
            )

        try:
            write_records(chosen)
        except Exception as error:
            if not _refused(error):
                raise
            for record in chosen:  # keep the page's other records: one transaction each
                try:
                    write_records([record])
                except Exception as one:
                    if not _refused(one):
                        raise
                    result.refuse(record, one)
        for record in page.records:
            if high_water is None or record.updated > high_water:
                high_water = record.updated
        bar.update(len(page.records) + len(page.rejected))

    listing = _Listing()
    try:
        for page in ahead(harvester.pages(source, since, settings)):
            listing.add(page)
            write(page)
        if reconcile and listing.filtered:
            listing = _Listing()
            for page in ahead(harvester.listing(source, settings)):
                listing.add(page)
                write(page)
    except SourceError as error:
        result.error = error.message
        result.retry_at = state.mark_failure(source.name, error.message, settings.harvest, conn)
        log.warning("harvest of %s failed (retry at %s): %s", source.name, result.retry_at, error)
        return result
    finally:
        bar.close()
    why_not = listing.incomplete()
    result.listed = why_not is None
    if why_not is None:
        _apply_deletions(settings, source, listing, result, force_deletions, conn)
    elif reconcile:
        result.deletions_refused = f"no complete listing: {why_not}"
    deletions = result.deletions_refused
    state.mark_success(
        source.name,
        high_water,
        interval_s,
        listed_completely=result.listed,
        warning=f"remote deletions not applied: {deletions}" if deletions else None,
        conn=conn,
    )
    log.info(
        "harvest of %s: %d added, %d updated, %d unchanged, %d deleted, %d conflicts, "
        "%d rejected%s",
        source.name,
        result.added,
        result.updated,
        result.unchanged,
        result.deleted,
        len(result.conflicts),
        len(result.rejected),
        f"; deletions refused: {result.deletions_refused}" if result.deletions_refused else "",
    )
    return result


def _apply_deletions(
    settings: Settings,
    source: HarvestSource,
    listing: _Listing,
    result: HarvestResult,
    force: bool,
    conn: Connection,
) -> None:
    """Remove this source's records the complete listing no longer has, in one
    transaction (product rows, pycsw projection, ownership), within the guard."""
    state = HarvestState(settings.database_url)
    held = state.owned_harvested(source.name, conn)
    gone = [identifier for identifier in held if identifier not in listing.seen]
    if not gone:
        return
    share = 100.0 * len(gone) / len(held)
    limit = settings.harvest.max_delete_percent
    if share > limit and not force:
        result.deletions_refused = (
            f"the source no longer lists {len(gone)} of our {len(held)} record(s) "
            f"({share:.0f} %, more than harvest.max_delete_percent = {limit:g} %); "
            "nothing deleted. If the source really removed them: "
            f"ogcsdl harvest --full --force-deletions --name {source.name} ..."
        )
        log.warning("harvest of %s: %s", source.name, result.deletions_refused)
        return
    result.deleted = product_store(settings).delete_many(
        gone, also=lambda conn: state.disown(conn, source.name, gone), conn=conn
    )


def delete_source(settings: Settings, name: str) -> int:
    """Remove a source and every record it brought, in one transaction."""
    state = HarvestState(settings.database_url)
    if state.get(name) is None:
        raise NotFound(f"no harvest source named {name!r}", "source")
    identifiers = state.owned(name)
    store = product_store(settings)
    return store.delete_many(identifiers, also=lambda conn: state.forget(conn, name))
