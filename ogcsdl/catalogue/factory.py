"""Build the product store with the catalogue projections attached."""

from __future__ import annotations

from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings


def product_store(settings: Settings) -> ProductStore:
    """The product store for this configuration, schema ensured."""
    store = ProductStore(settings.database_url)
    store.ensure_schema()
    return store
