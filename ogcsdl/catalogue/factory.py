"""Build the product store with the catalogue projections attached."""

from __future__ import annotations

from ogcsdl.catalogue.projection import CatalogueProjection
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings


def product_store(settings: Settings) -> ProductStore:
    """The product store for this configuration, schema ensured, with pycsw's
    ``records`` table written in the same transaction as every upsert/delete.

    The records table itself is made by pycsw when the catalogue starts
    (``service.prepare_catalogue``), which back-fills it from this store; until then the
    projection hooks write nothing. This keeps ``product_store`` cheap (no pycsw
    interpreter start) for code and tests that never serve a catalogue.
    """
    projection = CatalogueProjection(settings)
    store = ProductStore(
        settings.database_url, on_upsert=[projection.upsert], on_delete=[projection.delete]
    )
    store.ensure_schema()
    return store
