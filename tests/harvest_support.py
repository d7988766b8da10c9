"""A scripted remote catalogue for in-process harvest tests (the outside world); the
store, the ownership state and the runner stay real."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ogcsdl.catalogue.record import ProductRecord
from ogcsdl.config import Settings
from ogcsdl.harvest.model import HarvestSource, Page, remote_record
from ogcsdl.harvest.transport import SourceError

SOURCE = HarvestSource("dias", "https://dias.example/stac", "stac")
OTHER = HarvestSource("other", "https://other.example/stac", "stac")


def scripted_record(source: HarvestSource, identifier: str) -> ProductRecord:
    return remote_record(
        source,
        identifier=identifier,
        title=identifier,
        collection="sentinel-2-l1c",
        start=datetime(2024, 6, 1, tzinfo=UTC),
        end=datetime(2024, 6, 1, tzinfo=UTC),
        bbox=(17.0, 59.0, 18.0, 60.0),
        updated=datetime(2024, 6, 2, tzinfo=UTC),
        assets=[{"href": f"https://{source.name}.example/{identifier}.tif"}],
    )


@dataclass
class ScriptedRemote:
    """A remote catalogue answering what the test says: the records it holds, the
    total it claims, whether it filters by modification date, and whether the
    listing pass breaks down."""

    source: HarvestSource
    held: list[str]
    claimed: int | None = None  # numberMatched it reports (default: the truth)
    filters_since: bool = False
    listing_fails: bool = False
    calls: list[str] = field(default_factory=list)

    def _pages(self, since_applied: bool) -> Iterator[Page]:
        records = [scripted_record(self.source, identifier) for identifier in self.held]
        matched = len(records) if self.claimed is None else self.claimed
        for first in range(0, max(len(records), 1), 3):
            chunk = records[first : first + 3]
            yield Page(
                chunk,
                matched=matched,
                seen=[r.identifier for r in chunk],
                since_applied=since_applied,
            )

    def pages(
        self, source: HarvestSource, since: datetime | None, settings: Settings
    ) -> Iterator[Page]:
        self.calls.append("pages")
        return self._pages(since is not None and self.filters_since)

    def listing(self, source: HarvestSource, settings: Settings) -> Iterator[Page]:
        self.calls.append("listing")
        if self.listing_fails:
            yield from list(self._pages(False))[:1]
            raise SourceError("connection reset in the middle of the listing")
        for page in self._pages(False):
            yield Page([], matched=page.matched, seen=page.seen)


TEN = [f"S2-{number:02d}" for number in range(10)]
