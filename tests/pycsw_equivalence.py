"""Run by the catalogue interpreter (pycsw's): answer each request of ``REQUESTS`` twice
in one process through ``pycsw_wsgi.application``, once with pycsw's own
``Repository.query`` and ``OAIPMH._transform_element`` and once with ours
(``pycsw_query``, ``pycsw_oai``), and print per request whether the answers are the
same (times stripped), their status and the records matched, as JSON.

Usage: ``PYCSW_CONFIG=... python pycsw_equivalence.py <pycsw_side dir>``.
"""

import io
import json
import re
import sys

sys.path.insert(0, sys.argv[1])

from pycsw import oaipmh  # noqa: E402
from pycsw.core import repository  # noqa: E402

PYCSW = (repository.Repository.query, oaipmh.OAIPMH._transform_element)

import pycsw_wsgi  # noqa: E402

OURS = (repository.Repository.query, oaipmh.OAIPMH._transform_element)

CSW_POST = """<?xml version="1.0" encoding="UTF-8"?>
<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2"
    xmlns:ogc="http://www.opengis.net/ogc" xmlns:gml="http://www.opengis.net/gml"
    service="CSW" version="2.0.2" resultType="results" maxRecords="10"
    outputSchema="http://www.isotc211.org/2005/gmd">
  <csw:Query typeNames="csw:Record">
    <csw:ElementSetName>full</csw:ElementSetName>
    <csw:Constraint version="1.1.0"><ogc:Filter><ogc:And>
      <ogc:BBOX><ogc:PropertyName>ows:BoundingBox</ogc:PropertyName>
        <gml:Envelope srsName="urn:ogc:def:crs:EPSG::4326">
          <gml:lowerCorner>58.5 16.5</gml:lowerCorner>
          <gml:upperCorner>60.5 18.5</gml:upperCorner>
        </gml:Envelope></ogc:BBOX>
      <ogc:PropertyIsGreaterThanOrEqualTo><ogc:PropertyName>apiso:TempExtent_end</ogc:PropertyName>
        <ogc:Literal>2024-06-01T00:00:00Z</ogc:Literal></ogc:PropertyIsGreaterThanOrEqualTo>
      <ogc:PropertyIsLessThanOrEqualTo><ogc:PropertyName>apiso:TempExtent_begin</ogc:PropertyName>
        <ogc:Literal>2024-06-30T00:00:00Z</ogc:Literal></ogc:PropertyIsLessThanOrEqualTo>
      <ogc:PropertyIsLessThanOrEqualTo><ogc:PropertyName>apiso:CloudCover</ogc:PropertyName>
        <ogc:Literal>50</ogc:Literal></ogc:PropertyIsLessThanOrEqualTo>
    </ogc:And></ogc:Filter></csw:Constraint>
  </csw:Query>
</csw:GetRecords>"""

CSW = "service=CSW&version=2.0.2&request=GetRecords&typenames=csw:Record&resulttype=results"
OPENSEARCH = (
    "mode=opensearch&service=CSW&version=3.0.0&request=GetRecords&typenames=csw:Record"
    "&resulttype=results&elementsetname=full"
)
REQUESTS = {
    "csw bbox+time+cloud (POST)": ("", CSW_POST),
    "csw sorted by title, descending, second page": (
        f"{CSW}&elementsetname=brief&sortby=dc:title:D&maxrecords=2&startposition=2",
        None,
    ),
    "csw sorted by cloud cover": (
        f"{CSW}&elementsetname=summary&sortby=apiso:CloudCover:A&maxrecords=10",
        None,
    ),
    "csw hits": (f"{CSW}&elementsetname=brief&resulttype=hits", None),
    # Columns the lean page leaves out (search-only), read all the same when asked for:
    "csw elementname AnyText": (
        f"{CSW}&elementname=csw:AnyText,dc:identifier&sortby=dc:identifier:A",
        None,
    ),
    "csw cql title": (
        f"{CSW}&elementsetname=brief&constraintlanguage=CQL_TEXT"
        "&constraint=dc:title%20like%20%27%25Stockholm%25%27&sortby=dc:identifier:A",
        None,
    ),
    "opensearch bbox+time+cloud": (
        f"{OPENSEARCH}&bbox=16.5,58.5,18.5,60.5&time=2024-06-01T00:00:00Z/2024-06-30T00:00:00Z"
        "&eo:cloudCover=[0,50]",
        None,
    ),
    "opensearch text, paged": (f"{OPENSEARCH}&q=Sentinel&maxrecords=2&startposition=2", None),
    "oai ListRecords iso19139": ("mode=oaipmh&verb=ListRecords&metadataPrefix=iso19139", None),
    "oai ListRecords oai_dc": ("mode=oaipmh&verb=ListRecords&metadataPrefix=oai_dc", None),
    "oai ListIdentifiers": ("mode=oaipmh&verb=ListIdentifiers&metadataPrefix=iso19139", None),
    "oai GetRecord": (
        "mode=oaipmh&verb=GetRecord&metadataPrefix=oai_dc&identifier=S2A-STHLM-0601",
        None,
    ),
}
_TIMES = re.compile(
    rb'(?:timestamp|expires|elapsedTime)="[^"]*"|<(oai:responseDate|atom:updated)>[^<]*<'
)
_MATCHED = re.compile(
    rb'numberOfRecordsMatched="(\d+)"|<os:totalResults>(\d+)<|completeListSize="(\d+)"'
)


def answer(query, body):
    data = body.encode() if body else b""
    environ = {
        "REQUEST_METHOD": "POST" if body else "GET",
        "QUERY_STRING": query,
        "CONTENT_TYPE": "application/xml",
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "PATH_INFO": "/",
        "SCRIPT_NAME": "",
    }
    status = []
    content = b"".join(pycsw_wsgi.application(environ, lambda s, _h: status.append(s)))
    return status[0], _TIMES.sub(b"", content)


def use(functions):
    repository.Repository.query, oaipmh.OAIPMH._transform_element = functions


report = {}
for name, (query, body) in REQUESTS.items():
    use(PYCSW)
    theirs = answer(query, body)
    use(OURS)
    ours = answer(query, body)
    found = _MATCHED.search(ours[1])
    report[name] = {
        "same": theirs == ours,
        "status": ours[0],
        "matched": int(next(g for g in found.groups() if g)) if found else None,
        "identifiers": len(re.findall(rb"<(?:oai|dc):identifier>", ours[1])),
        "anytext": len(re.findall(rb"<csw:AnyText>[^<]*Sentinel", ours[1])),
    }
print(json.dumps(report))
