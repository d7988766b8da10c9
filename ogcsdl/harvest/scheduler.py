"""Scheduled harvests while the suite serves: a child process of the supervisor that
runs each configured source (``harvest.sources``) every ``interval_s``, and a failing
one again after its backoff delay."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType

from ogcsdl.config import HarvestSourceSettings, Settings, load_settings
from ogcsdl.harvest.model import HarvestSource
from ogcsdl.harvest.runner import run_harvest
from ogcsdl.harvest.state import HarvestState
from ogcsdl.schema import create_schema
from ogcsdl.server.children import ChildSpec

log = logging.getLogger("ogcsdl.harvest.scheduler")


def harvest_child(settings: Settings) -> ChildSpec | None:
    """The scheduler process, or None when no source is configured."""
    if not settings.harvest.sources:
        return None
    return ChildSpec(name="harvester", argv=[sys.executable, "-m", "ogcsdl.harvest.scheduler"])


def _source(entry: HarvestSourceSettings) -> HarvestSource:
    return HarvestSource(entry.name, entry.url, entry.protocol, entry.collection, entry.bbox)


def due(state: HarvestState, entry: HarvestSourceSettings, now: datetime) -> bool:
    row = state.get(entry.name)
    return row is None or row.next_attempt is None or row.next_attempt <= now


def run_due(settings: Settings, state: HarvestState) -> int:
    """Harvest every configured source that is due; returns how many ran."""
    ran = 0
    for entry in settings.harvest.sources:
        if not due(state, entry, datetime.now(UTC)):
            continue
        ran += 1
        try:
            run_harvest(
                settings,
                _source(entry),
                interval_s=entry.interval_s,
                full_every_s=entry.full_every_s,
            )
        except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
            log.exception("harvest of %s failed unexpectedly", entry.name)
            state.mark_failure(entry.name, f"{exc.__class__.__name__}: {exc}", settings.harvest)
    return ran


def main() -> None:
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s harvester %(message)s")
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    create_schema(settings)  # normally done by the supervisor already; idempotent
    state = HarvestState(settings.database_url)
    log.info("scheduling %d source(s)", len(settings.harvest.sources))
    while not stop.is_set():
        run_due(settings, state)
        stop.wait(1.0)


if __name__ == "__main__":
    main()
