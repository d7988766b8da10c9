"""Build the product store with the catalogue projections attached."""

from __future__ import annotations

from ogcsdl.catalogue.projection import CatalogueProjection
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings


def product_store(settings: Settings) -> ProductStore:
    """The product store for this configuration, schema ensured, with pycsw's
    ``records`` table written in the same transaction as every upsert/delete."""
    projection = CatalogueProjection(settings)
    store = ProductStore(
        settings.database_url, on_upsert=[projection.upsert], on_delete=[projection.delete]
    )
    store.ensure_schema()
    if settings.catalogue.python.exists():
        # Late import: pycsw_setup imports projection (no cycle at module level).
        from ogcsdl.catalogue.pycsw_setup import ensure_records_table

        if ensure_records_table(settings):
            projection.resync(store)
    return store
