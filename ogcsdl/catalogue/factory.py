"""Build the product store with the catalogue projections attached, once per process."""

from __future__ import annotations

import threading

from ogcsdl.catalogue.projection import CatalogueProjection
from ogcsdl.catalogue.store import ProductStore
from ogcsdl.config import Settings

_STORES: dict[str, ProductStore] = {}
_LOCK = threading.Lock()


def product_store(settings: Settings) -> ProductStore:
    """The product store for this configuration, with pycsw's ``records`` table written
    in the same transaction as every upsert/delete. Built once per process and
    configuration (stores hold no connection: each call opens its own); the schema is
    created at start-up (:func:`ogcsdl.schema.create_schema`), never here.

    The records table itself is made by pycsw when the catalogue starts
    (``service.prepare_catalogue``), which back-fills it from this store; until then the
    projection hooks write nothing.
    """
    key = settings.model_dump_json()
    with _LOCK:
        store = _STORES.get(key)
        if store is None:
            projection = CatalogueProjection(settings)
            store = ProductStore(
                settings.database_url,
                on_upsert=[projection.upsert],
                on_delete=[projection.delete],
            )
            _STORES[key] = store
        return store
