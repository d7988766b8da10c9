"""pycsw as a child process of the suite: prepare it, describe how to run it, check it.

The supervisor runs :func:`catalogue_child`; the gateway reverse-proxies ``/csw`` to it;
``/health`` calls :func:`check_catalogue`.
"""

from __future__ import annotations

import requests
from lxml import etree

from ogcsdl.catalogue.factory import product_store
from ogcsdl.catalogue.projection import CatalogueProjection
from ogcsdl.catalogue.pycsw_setup import (
    WSGI_DIR,
    catalogue_python,
    ensure_records_table,
    write_pycsw_config,
)
from ogcsdl.config import Settings
from ogcsdl.errors import ServiceUnavailable
from ogcsdl.server.children import ChildSpec, gunicorn_argv

CAPABILITIES_QUERY = "?service=CSW&request=GetCapabilities"


def prepare_catalogue(settings: Settings, server_url: str | None = None) -> None:
    """Write pycsw.cfg, create the records table (pycsw itself) and fill it."""
    settings.ensure_dirs()
    write_pycsw_config(settings, server_url)
    store = product_store(settings)
    if ensure_records_table(settings):
        CatalogueProjection(settings).resync(store)  # products stored before pycsw existed


def catalogue_child(settings: Settings, server_url: str | None = None) -> ChildSpec:
    """pycsw under gunicorn, from the catalogue environment, on loopback.

    ``server_url`` is the URL pycsw advertises; default ``settings.url("csw")`` (the
    gateway). Tests that talk to pycsw directly pass its own URL.
    """
    python = catalogue_python(settings)
    prepare_catalogue(settings, server_url)
    argv = gunicorn_argv(
        str(python),
        f"127.0.0.1:{settings.catalogue.port}",
        settings.catalogue.workers,
        settings.server.timeout_s,
        "pycsw_wsgi:application",
        *("--pythonpath", str(WSGI_DIR)),
    )
    return ChildSpec(
        name="catalogue",
        argv=argv,
        env={"PYCSW_CONFIG": str(settings.generated_dir / "pycsw.cfg")},
        ready_url=settings.catalogue_internal_url + CAPABILITIES_QUERY,
    )


def check_catalogue(settings: Settings, timeout_s: float = 5.0) -> None:
    """Raise :class:`ServiceUnavailable` unless pycsw answers GetCapabilities."""
    url = settings.catalogue_internal_url + CAPABILITIES_QUERY
    try:
        response = requests.get(url, timeout=timeout_s)
    except requests.RequestException as exc:
        raise ServiceUnavailable(f"the catalogue (pycsw) does not answer: {exc}") from None
    if response.status_code != 200:
        raise ServiceUnavailable(f"the catalogue (pycsw) answered HTTP {response.status_code}")
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(response.content, parser)
    except etree.XMLSyntaxError:
        raise ServiceUnavailable("the catalogue (pycsw) answered with malformed XML") from None
    if etree.QName(root).localname != "Capabilities":
        raise ServiceUnavailable(
            f"the catalogue (pycsw) answered {etree.QName(root).localname}, not Capabilities"
        )
