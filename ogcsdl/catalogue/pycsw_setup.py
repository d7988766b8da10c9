"""pycsw's configuration and schema, generated from :class:`Settings`.

pycsw runs in its own interpreter (``settings.catalogue.python``), so this module never
imports pycsw: it writes ``<generated_dir>/pycsw.cfg`` and runs pycsw's own
``admin.setup_db`` in that interpreter to create the ``records`` table. The suite's
interpreter only writes rows (see ``projection``).
"""

from __future__ import annotations

import configparser
import io
import json
import logging
import subprocess
from pathlib import Path

from ogcsdl.catalogue.projection import EXTRA_COLUMNS, RECORDS_TABLE, records_table_exists
from ogcsdl.catalogue.sparse_indexes import ensure_sparse_indexes
from ogcsdl.config import Settings
from ogcsdl.db import connect, dialect_of, sqlite_path
from ogcsdl.errors import ConfigError, ServiceUnavailable

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
WSGI_DIR = HERE / "pycsw_side"  # holds pycsw_wsgi.py, imported by gunicorn as ``pycsw_wsgi``
MAPPINGS_MODULE = WSGI_DIR / "pycsw_mappings.py"

# Runs in the catalogue interpreter: create the records table the way pycsw wants it,
# plus the EO columns, once. PostGIS gets a native geometry column and an FTS index.
_SETUP_SCRIPT = """
import json, sys
from sqlalchemy import Column, Float, Text, create_engine, inspect
from pycsw.core import admin
import pycsw

url, table, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
engine = create_engine(url)
if inspect(engine).has_table(table):
    sys.exit(0)
if engine.dialect.name == "postgresql":
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
types = {"float": Float, "text": Text}
columns = [Column(name, types[kind], index=True) for name, kind in extra.items()]
admin.setup_db(url, table, pycsw.__path__[0], extra_columns=columns)
"""


def catalogue_python(settings: Settings) -> Path:
    python = settings.catalogue.python
    if not python.exists():
        raise ConfigError(
            f"catalogue.python: {python} does not exist; run scripts/setup.sh or point "
            "it at the interpreter of the pycsw environment"
        )
    return python


def pycsw_config_path(settings: Settings) -> Path:
    return settings.generated_dir / "pycsw.cfg"


def pycsw_config_text(settings: Settings, server_url: str | None = None) -> str:
    """The pycsw INI configuration. ``server_url`` is what pycsw advertises; it must be
    the URL clients reach (default: the gateway's ``/csw``)."""
    cat = settings.catalogue
    parser = configparser.ConfigParser(interpolation=None)
    parser["server"] = {
        "url": server_url or settings.url("csw"),
        "mimetype": "application/xml; charset=UTF-8",
        "encoding": "UTF-8",
        "language": "en-US",
        "maxrecords": str(cat.max_records),
        "loglevel": "WARNING",
        "logfile": "",
        "pretty_print": "true",
        "domainquerytype": "list",
        "domaincounts": "false",
        "spatial_ranking": "false",
        "profiles": "apiso",
    }
    if cat.federated_catalogues:
        parser["server"]["federatedcatalogues"] = ",".join(cat.federated_catalogues)
        parser["server"]["federatedtimeout"] = str(cat.federation_timeout_s)
    # pycsw's own transactions stay off: the gateway answers CSW-T Harvest with the
    # suite's harvest runner (ogcsdl.harvest.csw_t); pycsw only advertises it.
    parser["manager"] = {"transactions": "false", "allowed_ips": "127.0.0.1"}
    if settings.harvest.csw_harvest:
        from ogcsdl.harvest.csw_t import RESOURCE_TYPES

        parser["manager"]["ogcsdl_harvest_resource_types"] = ",".join(RESOURCE_TYPES)
    parser["metadata:main"] = {
        "identification_title": cat.title,
        "identification_abstract": cat.abstract,
        "identification_keywords": ",".join(cat.keywords),
        "identification_keywords_type": "theme",
        "identification_fees": "None",
        "identification_accessconstraints": "None",
        "provider_name": cat.organisation,
        "provider_url": settings.public_url,
        "contact_name": cat.contact_name,
        "contact_position": "Operator",
        "contact_address": "-",
        "contact_city": "-",
        "contact_stateorprovince": "-",
        "contact_postalcode": "-",
        "contact_country": "-",
        "contact_phone": "-",
        "contact_fax": "-",
        "contact_email": cat.contact_email,
        "contact_url": settings.public_url,
        "contact_hours": "-",
        "contact_instructions": "-",
        "contact_role": "pointOfContact",
    }
    parser["metadata:inspire"] = {"enabled": "false"}
    parser["repository"] = {
        "database": pycsw_database_url(settings),
        "table": RECORDS_TABLE,
        "mappings": str(MAPPINGS_MODULE),
    }
    out = io.StringIO()
    # pycsw reads it with environment-variable interpolation: escape '%'.
    for section in parser.sections():
        for key, value in parser[section].items():
            parser[section][key] = value.replace("%", "%%")
    parser.write(out)
    return out.getvalue()


def pycsw_database_url(settings: Settings) -> str:
    """SQLAlchemy form of the database URL: absolute SQLite path, or postgresql://."""
    url = settings.database_url
    if dialect_of(url) == "sqlite":
        return f"sqlite:///{sqlite_path(url).resolve()}"
    return url


def write_pycsw_config(settings: Settings, server_url: str | None = None) -> Path:
    path = pycsw_config_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(pycsw_config_text(settings, server_url), encoding="utf-8")
    return path


def ensure_records_table(settings: Settings) -> bool:
    """Create pycsw's ``records`` table (by pycsw itself) unless it exists.

    Returns True when the table was created now. Either way the search index
    (:func:`ensure_search_index`) exists afterwards.
    """
    if records_table_exists(settings.database_url):
        ensure_search_index(settings)
        ensure_sparse_indexes(settings.database_url)
        return False
    url = pycsw_database_url(settings)
    if dialect_of(url) == "sqlite":
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    argv = [
        str(catalogue_python(settings)),
        "-c",
        _SETUP_SCRIPT,
        url,
        RECORDS_TABLE,
        json.dumps(EXTRA_COLUMNS),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ServiceUnavailable(f"pycsw could not create its records table: {tail[0]}")
    log.info("created the pycsw records table in %s", settings.database_url.split("@")[-1])
    ensure_search_index(settings)
    ensure_sparse_indexes(settings.database_url)
    return True


# The index of the catalogue's searches (CSW GetRecords, OpenSearch): a bounding box, a
# time window and a cloud-cover limit. pycsw indexes each column on its own, so
# PostgreSQL either ANDs the bitmap of the box with that of a one-sided time range (every
# record that began before the window's end: most of the catalogue) or walks the box
# and reads each record to test its dates. One GiST over the geometry AND the dates and
# cloud cover (btree_gist: their B-tree operators in GiST) lets the scan of the box test
# the rest inside the index: only the records that match are read. Its columns are the
# ones pycsw's generated SQL compares (text ISO dates, as it stores them), so the
# planner uses it for pycsw's own queries unchanged.
SEARCH_INDEX = "records_search_idx"
SEARCH_INDEX_COLUMNS = ("wkb_geometry", "time_begin", "time_end", "cloudcover")
_SETUP_LOCK = 0x6F676373  # pg_advisory_xact_lock key: suites starting together


def ensure_search_index(settings: Settings) -> bool:
    """Create the search index on PostGIS unless it exists (a one-off build when an
    existing catalogue is upgraded: about a minute per million records). SQLite has no
    spatial index in pycsw's schema (pycsw tests geometries in Python there), so it
    gets none. Returns True when the index was created now."""
    if dialect_of(settings.database_url) == "sqlite":
        return False
    with connect(settings.database_url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_SETUP_LOCK,))
        if conn.query("SELECT to_regclass(?)", (SEARCH_INDEX,))[0][0] is not None:
            return False
        missing = sorted(set(SEARCH_INDEX_COLUMNS) - conn.columns(RECORDS_TABLE))
        if missing:  # a records table that is not pycsw's with our EO columns
            log.warning("no catalogue search index: %s lacks %s", RECORDS_TABLE, missing)
            return False
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        conn.execute(
            f"CREATE INDEX {SEARCH_INDEX} ON {RECORDS_TABLE} USING gist"
            f" ({', '.join(SEARCH_INDEX_COLUMNS)})"
        )
    log.info("created the catalogue search index %s", SEARCH_INDEX)
    return True
