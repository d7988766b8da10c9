"""The database schema of the suite, created once at start-up (``ogcsdl serve``,
``ogcsdl ingest``, ``ogcsdl demo``, test fixtures), never by a store on use."""

from __future__ import annotations

from ogcsdl.catalogue.sparse_indexes import ensure_sparse_indexes
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings
from ogcsdl.harvest.state import HarvestState
from ogcsdl.jobs.store import JobStore


def create_schema(settings: Settings) -> None:
    """Create the suite's tables and indexes if they do not exist (idempotent)."""
    ProductStore(settings.database_url).ensure_schema()
    JobStore(settings.database_url).ensure_schema()
    HarvestState(settings.database_url).ensure_schema()
    # pycsw's records table, when it exists already (else right after pycsw made it)
    ensure_sparse_indexes(settings.database_url)
