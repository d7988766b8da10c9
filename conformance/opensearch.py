"""OpenSearch 1.1 (+ Geo, Time and EO extensions) checks against the CSW endpoint's
OpenSearch mode (pycsw: ``<base>/csw?mode=opensearch``)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import requests
from lxml import etree

from conformance.csw import endpoint, first_record
from conformance.runner import CheckFailure, CheckResult, check
from conformance.xmlcheck import NS, expect_root, parse

_DESCRIPTION = {
    "mode": "opensearch",
    "service": "CSW",
    "version": "3.0.0",
    "request": "GetCapabilities",
}
_SEARCH = {
    "mode": "opensearch",
    "service": "CSW",
    "version": "3.0.0",
    "request": "GetRecords",
    "typenames": "csw:Record",
    "elementsetname": "full",
    "resulttype": "results",
}


def _search(session: requests.Session, base_url: str, **params: str) -> requests.Response:
    return session.get(endpoint(base_url), params={**_SEARCH, **params})


def _feed(response: requests.Response) -> etree._Element:
    root = parse(response)
    if response.status_code != 200:
        raise CheckFailure(f"HTTP {response.status_code}")
    expect_root(root, "atom", "feed")
    return root


def _identifiers(feed: etree._Element) -> set[str]:
    return {node.text or "" for node in feed.iterfind(".//dc:identifier", NS)}


def _template_parameters(template: str) -> set[str]:
    return {
        value.strip("{}?")
        for _, value in parse_qsl(urlsplit(template).query)
        if value.startswith("{")
    }


@check("OpenSearch 1.1", "Description document with geo/time/eo templates")
def description(base_url: str, session: requests.Session) -> CheckResult:
    response = session.get(endpoint(base_url), params=_DESCRIPTION)
    root = parse(response)
    expect_root(root, "os", "OpenSearchDescription")
    if not root.findtext("os:ShortName", namespaces=NS):
        return CheckResult.failed("os:ShortName is missing")
    templates = [url.get("template", "") for url in root.iterfind("os:Url", NS)]
    if not templates:
        return CheckResult.failed("no os:Url templates")
    wanted = {"searchTerms", "geo:box", "time:start", "time:end", "eo:platform", "eo:cloudCover"}
    for template in templates:
        missing = wanted - _template_parameters(template)
        if missing:
            return CheckResult.failed(f"template lacks {sorted(missing)}: {template[:80]}")
        if not template.startswith(endpoint(base_url)):
            return CheckResult.failed(
                f"template points at {template[:60]}, not {endpoint(base_url)}"
            )
    return CheckResult.ok(f"{len(templates)} templates")


@check("OpenSearch 1.1", "Search answers an Atom feed with totalResults")
def atom_search(base_url: str, session: requests.Session) -> CheckResult:
    feed = _feed(_search(session, base_url, q=""))
    total = feed.findtext("os:totalResults", namespaces=NS)
    entries = feed.findall("atom:entry", NS)
    if total is None or not total.isdigit() or len(entries) > int(total):
        return CheckResult.failed(f"totalResults={total!r} with {len(entries)} entries")
    return CheckResult.ok(f"{total} results")


@check("OpenSearch Geo 1.0", "geo:box finds a record in its own box")
def geo_box(base_url: str, session: requests.Session) -> CheckResult:
    found = first_record(session, base_url)
    if found is None:
        return CheckResult.skipped("the catalogue has no records with a bounding box")
    identifier, box = found
    feed = _feed(
        _search(session, base_url, bbox=",".join(str(value) for value in box), maxrecords="100")
    )
    if identifier not in _identifiers(feed):
        return CheckResult.failed(f"{identifier} not found in bbox={box}")
    return CheckResult.ok()


@check("OpenSearch Time 1.0", "time:start/time:end filter excludes a far-past window")
def time_window(base_url: str, session: requests.Session) -> CheckResult:
    feed = _feed(_search(session, base_url, time="1800-01-01/1800-12-31"))
    total = feed.findtext("os:totalResults", namespaces=NS)
    if total != "0":
        return CheckResult.failed(f"{total} results for the year 1800")
    return CheckResult.ok()


@check("OpenSearch Geo/Time", "Invalid box or time -> ExceptionReport, 4xx")
def invalid_geo_time(base_url: str, session: requests.Session) -> CheckResult:
    for params in ({"bbox": "east,north,west"}, {"time": "not-a-date/never"}):
        response = _search(session, base_url, **params)
        root = parse(response)
        if (
            etree.QName(root).localname != "ExceptionReport"
            or not 400 <= response.status_code < 500
        ):
            name = etree.QName(root).localname
            return CheckResult.failed(f"{params}: HTTP {response.status_code} {name}")
    return CheckResult.ok()
