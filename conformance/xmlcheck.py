"""Safe XML parsing and offline XSD validation for the checks.

Schemas come from the copies pycsw ships (CSW 2.0.2/3.0, OWS, Filter, GML, ISO 19139)
and from ``../shared/schemas``; nothing is ever fetched from the network: documents and
schemas are parsed with ``no_network=True`` and a resolver that maps the canonical
``schemas.opengis.net`` locations to the local copies.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import requests
from lxml import etree

from conformance.runner import CheckFailure

SCHEMA_DIR_ENV = "OGCSDL_PYCSW_SCHEMAS"  # a pycsw package directory, if not found
_PROJECT_ROOT = Path(__file__).resolve().parent.parent

NS = {
    "csw": "http://www.opengis.net/cat/csw/2.0.2",
    "csw30": "http://www.opengis.net/cat/csw/3.0",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dct": "http://purl.org/dc/terms/",
    "gmd": "http://www.isotc211.org/2005/gmd",
    "gco": "http://www.isotc211.org/2005/gco",
    "ows": "http://www.opengis.net/ows",
    "ows11": "http://www.opengis.net/ows/1.1",
    "ows20": "http://www.opengis.net/ows/2.0",
    "os": "http://a9.com/-/spec/opensearch/1.1/",
    "atom": "http://www.w3.org/2005/Atom",
    "xlink": "http://www.w3.org/1999/xlink",
}

# Schema documents, relative to the pycsw package directory.
SCHEMAS = {
    "csw202": "core/schemas/ogc/csw/2.0.2/CSW-discovery.xsd",
    "csw202-publication": "core/schemas/ogc/csw/2.0.2/CSW-publication.xsd",
    "csw30": "core/schemas/ogc/cat/csw/3.0/cswAll.xsd",
    "ows100-exception": "core/schemas/ogc/ows/1.0.0/owsExceptionReport.xsd",
    "ows200-exception": "core/schemas/ogc/ows/2.0/owsExceptionReport.xsd",
    "gmd": "plugins/profiles/apiso/schemas/ogc/iso/19139/20060504/gmd/gmd.xsd",
}


def pycsw_dir() -> Path | None:
    """The pycsw package whose schemas we use: $OGCSDL_PYCSW_SCHEMAS, else the one in
    the suite's catalogue environment."""
    env = os.environ.get(SCHEMA_DIR_ENV)
    candidates = [Path(env)] if env else []
    candidates += sorted(_PROJECT_ROOT.glob(".venv-catalogue/lib/python3*/site-packages/pycsw"))
    for candidate in candidates:
        if (candidate / "core" / "schemas").is_dir():
            return candidate
    return None


class _LocalSchemas(etree.Resolver):
    """schemas.opengis.net and w3.org schema URLs -> the local copies."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.prefixes = {
            "http://schemas.opengis.net/iso/19139/20060504/": root
            / "plugins/profiles/apiso/schemas/ogc/iso/19139/20060504",
            "http://schemas.opengis.net/": root / "core/schemas/ogc",
            "http://www.w3.org/2001/xml.xsd": root / "core/schemas/w3c/2001/xml.xsd",
            "http://www.w3.org/1999/xlink.xsd": root / "core/schemas/w3c/1999/xlink.xsd",
        }

    def resolve(self, system_url, public_id, context):
        for prefix, local in self.prefixes.items():
            if system_url and system_url.startswith(prefix):
                path = local / system_url[len(prefix) :] if system_url != prefix else local
                if path.is_file():
                    return self.resolve_filename(str(path), context)
        return None


def _parser(schema_root: Path | None = None) -> etree.XMLParser:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    if schema_root is not None:
        parser.resolvers.add(_LocalSchemas(schema_root))
    return parser


@cache
def schema(name: str) -> etree.XMLSchema:
    root = pycsw_dir()
    if root is None:
        raise CheckFailure(
            f"XML schemas not found: install the catalogue environment or set {SCHEMA_DIR_ENV}"
        )
    document = etree.parse(str(root / SCHEMAS[name]), _parser(root))
    return etree.XMLSchema(document)


def parse(response: requests.Response) -> etree._Element:
    """The response body as XML, or a CheckFailure naming what came back."""
    try:
        return etree.fromstring(response.content, _parser())
    except etree.XMLSyntaxError as exc:
        kind = response.headers.get("Content-Type", "?")
        raise CheckFailure(f"HTTP {response.status_code}, not XML ({kind}): {exc}") from None


def validate(element: etree._Element, schema_name: str) -> None:
    """Validate ``element`` as a document of its own against a named schema."""
    document = etree.fromstring(etree.tostring(element), _parser())
    xsd = schema(schema_name)
    if not xsd.validate(document):
        error = xsd.error_log.last_error
        raise CheckFailure(
            f"not valid against {SCHEMAS[schema_name]}: line {error.line}: {error.message}"
        )


def expect_root(element: etree._Element, namespace_key: str, localname: str) -> None:
    found = etree.QName(element)
    if found.namespace != NS[namespace_key] or found.localname != localname:
        raise CheckFailure(
            f"expected {namespace_key}:{localname}, got {{{found.namespace}}}{found.localname}"
        )
