"""pycsw's searches with less work around the SQL (runs INSIDE pycsw's interpreter;
imports only pycsw, SQLAlchemy and the standard library).

Round trips: pycsw's engine runs every statement in its own transaction (psycopg2 sends
``BEGIN``, the statement, then the pool's ``ROLLBACK`` when the connection goes back):
three round trips per statement for a service that only reads (pycsw's own
transactions and Harvest are off: the suite writes the table). On PostgreSQL the
engine is made AUTOCOMMIT: one round trip per statement.

Compilation: pycsw 2.6.2 answers a GetRecords (CSW, OpenSearch, OAI-PMH lists) with
``Repository.query``: an ORM query over the reflected ``records`` table (about 65
columns), filtered by the request's SQL text. SQLAlchemy's statement cache cannot serve
it (the filter text carries the request's geometry), so every request compiles
``SELECT count(*) FROM (SELECT <65 columns> ...)`` (adapting every column into a
subquery) and then the page's ``SELECT <65 labelled columns>``: about 10 ms of CPU per
request, more than the database spends on both queries once they are indexed.

Here the same two statements are written as text around pycsw's own WHERE clause, with
the same bound values, sort and paging: ``SELECT count(*) FROM records WHERE ...`` and
``SELECT <the table's columns> FROM records WHERE ... [ORDER BY ...] LIMIT .. OFFSET ..``
loaded into pycsw's ORM class. The page leaves out the columns that only searches
read: the full-text ``anytext`` and its ``tsvector`` and the PostGIS geometry (about 2.5
kB a record that PostgreSQL would print as text and the ORM parse, for nothing: the
answers are written from the other columns, the footprint from ``wkt_geometry``), and
for an Atom answer the ISO document it does not show. A column left out is loaded on
access should a writer read it after all (``ElementName=csw:AnyText``), so the answer
stays pycsw's. The page's rows become instances of pycsw's ORM class directly (values
set through the column types' result processors, then made persistent in the
request's session, see ``_record``): the ORM's own loading of a textual statement
builds its row processors for every column on every query, most of the query's time
in Python. The rows, the count and their order are pycsw's; only the SQL text and the
loading are done differently. Requests this does not cover (spatial ranking, a
spatial sort, a repository filter, a sort on something that is not a column) go to
pycsw's own ``query``.
"""

from pycsw.core import repository, util
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import make_transient_to_detached


def autocommit_reads():
    """Create pycsw's PostgreSQL engines with ``isolation_level=AUTOCOMMIT`` (once per
    process; pycsw memoizes engines by URL). SQLite keeps pycsw's own engine (it
    registers pycsw's SQL functions on it)."""
    if getattr(repository.Repository, "_ogcsdl_autocommit", False):
        return
    original = repository.Repository.create_engine.__func__

    def create(clazz, url):
        if url not in clazz._engines and url.startswith("postgresql"):
            clazz._engines[url] = create_engine(url, echo=False, isolation_level="AUTOCOMMIT")
        return original(clazz, url)

    repository.Repository.create_engine = classmethod(create)
    repository.Repository._ogcsdl_autocommit = True


ATOM = "http://www.w3.org/2005/Atom"


def _select_list(repo, without=()):
    """``"identifier", "typename", ...`` of the mapped table but ``without`` (built once
    per ORM class), and those columns in that order."""
    dataset = repo.dataset
    lists = dataset.__dict__.get("_ogcsdl_select_lists")
    if lists is None:
        lists = dataset._ogcsdl_select_lists = {}
    if without not in lists:
        quote = repo.engine.dialect.identifier_preparer.quote
        columns = [column for column in dataset.__table__.columns if column.name not in without]
        lists[without] = (", ".join(quote(column.name) for column in columns), tuple(columns))
    return lists[without]


def _loads(repo, columns, description):
    """For each column: the ORM attribute its value goes to, and the result processor
    its type has for what the driver returned (``cursor.description``), as SQLAlchemy
    picks it for a typed query (None for most); built once per columns and types."""
    dataset = repo.dataset
    loads = dataset.__dict__.get("_ogcsdl_loads")
    if loads is None:
        loads = dataset._ogcsdl_loads = {}
    key = (columns, tuple(entry[1] for entry in description))
    if key not in loads:
        dialect = repo.engine.dialect
        mapper = inspect(dataset)
        loads[key] = [
            (
                mapper.get_property_by_column(column).key,
                column.type.dialect_impl(dialect).result_processor(dialect, coltype),
            )
            for column, coltype in zip(columns, key[1], strict=True)
        ]
    return loads[key]


def _search_only(repo):
    """The columns only searches read: pycsw's full-text column, its PostgreSQL
    ``tsvector`` and the PostGIS geometry (answers show ``wkt_geometry``)."""
    mappings = repo.context.md_core_model["mappings"]
    names = (mappings.get("pycsw:AnyText"), "anytext_tsvector", repo.postgis_geometry_column)
    return tuple(name for name in names if name)  # "anytext_tsvector": pycsw's admin's name


def _not_shown(repo):
    """Columns this request's answer never reads: the search-only ones, and for an Atom
    answer (OpenSearch, and the GeoJSON made from it) the ISO document, about 20 kB per
    record to read and send: it is written from the columns. pycsw's Atom writer reads
    the document only for records stored as Atom entries; the ORM then loads it on that
    access."""
    server = getattr(repo.context, "server", None)
    kvp = getattr(server, "kvp", None) or {}
    xml = repo.context.md_core_model["mappings"].get("pycsw:XML")
    if kvp.get("outputschema") == ATOM and xml:
        return (*_search_only(repo), xml)
    return _search_only(repo)


def _table_name(repo):
    return repo.engine.dialect.identifier_preparer.format_table(repo.dataset.__table__)


def _order_by(repo, sortby):
    """`` ORDER BY "column" ASC|DESC`` of pycsw's (aspatial) sortby, '' without one, or
    None when pycsw itself must sort (a spatial sort, not a column)."""
    if sortby is None:
        return ""
    if sortby.get("spatial"):
        return None
    column = repo.dataset.__table__.columns.get(sortby.get("propertyname"))
    if column is None:
        return None
    quote = repo.engine.dialect.identifier_preparer.quote
    direction = "DESC" if sortby.get("order") == "DESC" else "ASC"
    return f" ORDER BY {quote(column.name)} {direction}"


def _record(repo, loads, row):
    """The row as an instance of pycsw's ORM class in this request's session, as the
    ORM's own loading makes it (the same values, through the same result processors),
    without building the ORM's row processors for 60-odd columns on every query (most
    of the query's time in Python): its attributes set, then made persistent. Columns
    the page left out are expired, so reading one loads it from the database (by
    primary key) as the ORM does for a column it did not load."""
    record = repo.dataset()
    values = vars(record)
    for (key, process), value in zip(loads, row, strict=True):
        values[key] = value if process is None else process(value)
    make_transient_to_detached(record)  # "as though freshly loaded"; the rest expired
    loaded = repo.session.identity_map.get(inspect(record).key)
    if loaded is not None:  # the session has it already: the ORM would hand that one out
        return loaded
    repo.session.add(record)
    return record


def lean_getrecords_query():
    """Wrap ``Repository.query`` once per process (see the module's docstring)."""
    if getattr(repository.Repository, "_ogcsdl_lean_query", False):
        return
    original = repository.Repository.query

    def query(self, constraint, sortby=None, typenames=None, maxrecords=10, startposition=0):
        order = _order_by(self, sortby)
        if util.ranking_pass or self.filter is not None or order is None:
            return original(self, constraint, sortby, typenames, maxrecords, startposition)
        names, columns = _select_list(self, _not_shown(self))
        where, values = "", {}
        if "where" in constraint:
            where = f" WHERE {constraint['where']}"
            values = self._create_values(constraint["values"])
        table = _table_name(self)
        count = text(f"SELECT count(*) FROM {table}{where}")
        total = self.session.execute(count, values).scalar()  # its connection goes back now
        page = text(
            f"SELECT {names} FROM {table}{where}{order} LIMIT :ogcsdl_limit OFFSET :ogcsdl_offset"
        ).bindparams(ogcsdl_limit=int(maxrecords), ogcsdl_offset=int(startposition))
        result = self.session.execute(page, values)
        loads = _loads(self, columns, result.cursor.description)
        return [str(total), [_record(self, loads, row) for row in result.fetchall()]]

    repository.Repository.query = query
    repository.Repository._ogcsdl_lean_query = True
