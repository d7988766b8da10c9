"""The catalogue benchmark's questions (``benchmarks.catalogue``): seeded random
bbox + time + cloud-cover queries, asked of the real services over HTTP (CSW, STAC,
OpenSearch, OAI-PMH) and as the equivalent hand-written SQL on the same tables."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
import requests
from lxml import etree

from benchmarks.catalogue_data import DAYS, EUROPE, FIRST_DAY

PAGE = 10  # records per search page (CSW maxRecords, STAC limit, OpenSearch maxRecords)
SAFE = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
NS = {
    "csw": "http://www.opengis.net/cat/csw/2.0.2",
    "oai": "http://www.openarchives.org/OAI/2.0/",
    "atom": "http://www.w3.org/2005/Atom",
    "os": "http://a9.com/-/spec/opensearch/1.1/",
}


@dataclass(frozen=True)
class Query:
    bbox: tuple[float, float, float, float]
    start: datetime
    end: datetime
    max_cloud: float

    @property
    def interval(self) -> str:
        return f"{_z(self.start)}/{_z(self.end)}"


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def queries(count_: int, seed: int = 7) -> list[Query]:
    rng = random.Random(seed)
    west, south, east, north = EUROPE
    found = []
    for _ in range(count_):
        size = rng.uniform(0.5, 2.0)
        x, y = rng.uniform(west, east - size), rng.uniform(south, north - size)
        start = FIRST_DAY + timedelta(days=rng.randrange(DAYS - 30))
        found.append(
            Query(
                (round(x, 4), round(y, 4), round(x + size, 4), round(y + size, 4)),
                start,
                start + timedelta(days=30),
                float(rng.choice((10, 20, 30, 50))),
            )
        )
    return found


# --- the services, over HTTP ------------------------------------------------------


def _ok(response: requests.Response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.url} answered {response.status_code}: {response.text[:800]}")


def csw_body(query: Query) -> bytes:
    minx, miny, maxx, maxy = query.bbox
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2"
    xmlns:ogc="http://www.opengis.net/ogc" xmlns:gml="http://www.opengis.net/gml"
    service="CSW" version="2.0.2" resultType="results" maxRecords="{PAGE}"
    outputSchema="http://www.isotc211.org/2005/gmd">
  <csw:Query typeNames="csw:Record">
    <csw:ElementSetName>full</csw:ElementSetName>
    <csw:Constraint version="1.1.0"><ogc:Filter><ogc:And>
      <ogc:BBOX><ogc:PropertyName>ows:BoundingBox</ogc:PropertyName>
        <gml:Envelope srsName="urn:ogc:def:crs:EPSG::4326">
          <gml:lowerCorner>{miny} {minx}</gml:lowerCorner>
          <gml:upperCorner>{maxy} {maxx}</gml:upperCorner>
        </gml:Envelope></ogc:BBOX>
      <ogc:PropertyIsGreaterThanOrEqualTo><ogc:PropertyName>apiso:TempExtent_end</ogc:PropertyName>
        <ogc:Literal>{_z(query.start)}</ogc:Literal></ogc:PropertyIsGreaterThanOrEqualTo>
      <ogc:PropertyIsLessThanOrEqualTo><ogc:PropertyName>apiso:TempExtent_begin</ogc:PropertyName>
        <ogc:Literal>{_z(query.end)}</ogc:Literal></ogc:PropertyIsLessThanOrEqualTo>
      <ogc:PropertyIsLessThanOrEqualTo><ogc:PropertyName>apiso:CloudCover</ogc:PropertyName>
        <ogc:Literal>{query.max_cloud}</ogc:Literal></ogc:PropertyIsLessThanOrEqualTo>
    </ogc:And></ogc:Filter></csw:Constraint>
  </csw:Query>
</csw:GetRecords>""".encode()


def csw_search(session: requests.Session, base: str, query: Query) -> int:
    response = session.post(
        f"{base}/csw", data=csw_body(query), headers={"Content-Type": "application/xml"}
    )
    _ok(response)
    root = etree.fromstring(response.content, SAFE)
    results = root.find(".//csw:SearchResults", NS)
    if results is None:
        raise RuntimeError(f"CSW answered no SearchResults: {response.text[:500]}")
    return int(results.get("numberOfRecordsMatched") or 0)


def stac_search(session: requests.Session, base: str, query: Query) -> int:
    params = {
        "bbox": ",".join(str(value) for value in query.bbox),
        "datetime": query.interval,
        "filter": f"eo:cloud_cover <= {query.max_cloud}",
        "filter-lang": "cql2-text",
        "limit": PAGE,
    }
    response = session.get(f"{base}/stac/search", params=params)
    _ok(response)
    return len(response.json()["features"])


def opensearch(session: requests.Session, base: str, query: Query) -> int:
    params = {
        "mode": "opensearch",
        "service": "CSW",
        "version": "3.0.0",
        "request": "GetRecords",
        "elementsetname": "full",
        "typenames": "csw:Record",
        "resulttype": "results",
        "bbox": ",".join(str(value) for value in query.bbox),
        "time": query.interval,
        "eo:cloudCover": f"[0,{query.max_cloud}]",
        "maxrecords": PAGE,
    }
    response = session.get(f"{base}/csw", params=params)
    _ok(response)
    root = etree.fromstring(response.content, SAFE)
    total = root.find("os:totalResults", NS)
    if total is None:
        raise RuntimeError(f"OpenSearch answered no totalResults: {response.text[:500]}")
    return int(total.text or 0)


def oai_pages(session: requests.Session, base: str, wanted: int) -> tuple[int, list[float]]:
    """ListRecords from the start, following resumption tokens until ``wanted`` records
    (each exactly once); the seconds each page took."""
    params: dict[str, str] = {"mode": "oaipmh", "verb": "ListRecords", "metadataPrefix": "iso19139"}
    seen: set[str] = set()
    times: list[float] = []
    while len(seen) < wanted:
        started = time.perf_counter()
        response = session.get(f"{base}/csw", params=params)
        _ok(response)
        times.append(time.perf_counter() - started)
        root = etree.fromstring(response.content, SAFE)
        for header in root.iterfind(".//oai:header/oai:identifier", NS):
            if header.text in seen:
                raise RuntimeError(f"OAI-PMH listed {header.text} twice")
            seen.add(str(header.text))
        token = root.find(".//oai:resumptionToken", NS)
        if token is None or not (token.text or "").strip():
            break
        params = {"mode": "oaipmh", "verb": "ListRecords", "resumptionToken": token.text.strip()}
    return len(seen), times


# --- the same questions in hand-written SQL ---------------------------------------

CSW_WHERE = """ST_Intersects(wkb_geometry, ST_MakeEnvelope(%s, %s, %s, %s, 4326))
    AND time_end >= %s AND time_begin <= %s AND cloudcover <= %s"""
STAC_WHERE = """box(point(minx, miny), point(maxx, maxy)) && box(point(%s, %s), point(%s, %s))
    AND end_time >= %s AND start_time <= %s AND cloud_cover <= %s"""
# pycsw's OpenSearch reads time=START/END as "within" and eo:cloudCover=[0,X] as a range.
OPENSEARCH_WHERE = """ST_Intersects(wkb_geometry, ST_MakeEnvelope(%s, %s, %s, %s, 4326))
    AND time_begin >= %s AND time_end <= %s AND cloudcover >= 0 AND cloudcover <= %s"""
# What an Atom entry shows (pycsw's atom writer and pycsw_atom): not the ISO document.
ATOM_COLUMNS = """identifier, typename, title, abstract, keywords, creator, contributor, links,
    date_modified, insert_date, date_publication, accessconstraints, source, wkt_geometry,
    time_begin, time_end, platform, instrument, sensortype, cloudcover, producttype,
    processinglevel, bands"""


def csw_params(query: Query) -> tuple[Any, ...]:
    return (*query.bbox, _z(query.start), _z(query.end), query.max_cloud)


def stac_params(query: Query) -> tuple[Any, ...]:
    return (*query.bbox, query.start.isoformat(), query.end.isoformat(), query.max_cloud)


def sql_csw(conn: psycopg.Connection[Any], query: Query) -> int:
    """What a CSW GetRecords answer needs: the number matched and a page of ISO records."""
    params = csw_params(query)
    matched = conn.execute(f"SELECT count(*) FROM records WHERE {CSW_WHERE}", params).fetchone()
    conn.execute(f"SELECT xml FROM records WHERE {CSW_WHERE} LIMIT {PAGE}", params).fetchall()
    return int(matched[0]) if matched else 0


def sql_opensearch(conn: psycopg.Connection[Any], query: Query) -> int:
    """What an OpenSearch Atom answer needs: the total and a page of entries' columns."""
    params = csw_params(query)
    matched = conn.execute(
        f"SELECT count(*) FROM records WHERE {OPENSEARCH_WHERE}", params
    ).fetchone()
    conn.execute(
        f"SELECT {ATOM_COLUMNS} FROM records WHERE {OPENSEARCH_WHERE} LIMIT {PAGE}", params
    ).fetchall()
    return int(matched[0]) if matched else 0


def sql_stac(conn: psycopg.Connection[Any], query: Query) -> int:
    """A page of items, newest first (the STAC search pages without a total)."""
    rows = conn.execute(
        f"SELECT record FROM ogcsdl_products WHERE {STAC_WHERE}"
        f" ORDER BY start_time DESC, identifier LIMIT {PAGE}",
        stac_params(query),
    ).fetchall()
    return len(rows)


def sql_oai(conn: psycopg.Connection[Any], wanted: int, page: int) -> list[float]:
    """The OAI-PMH pages as SQL: the list size and a page in identifier order."""
    times = []
    for offset in range(0, wanted, page):
        started = time.perf_counter()
        conn.execute("SELECT count(*) FROM records").fetchone()
        conn.execute(
            "SELECT identifier, xml FROM records ORDER BY identifier LIMIT %s OFFSET %s",
            (page, offset),
        ).fetchall()
        times.append(time.perf_counter() - started)
    return times
