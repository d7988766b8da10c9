"""OpenSearch GeoJSON answers (runs INSIDE pycsw's interpreter; imports only lxml and
the standard library).

pycsw 2.6.2 answers OpenSearch in Atom only (its ``application/json`` is the Atom XML
turned into JSON keys). A request with ``outputFormat=application/geo+json`` (or
``httpAccept``) is answered by asking pycsw for Atom and converting the feed into a
GeoJSON FeatureCollection in the shape of the OpenSearch EO GeoJSON encoding
(OGC 17-047): one Feature per entry with its footprint, acquisition ``date``,
``updated``, EO properties and ``links`` (enclosures, alternates); ``totalResults``,
``startIndex`` and ``itemsPerPage`` at the top. The description document advertises it.
"""

import copy
import json
from urllib.parse import parse_qsl, urlencode

from lxml import etree
from pycsw_xml import parse, parse_or_none

GEOJSON = "application/geo+json"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "os": "http://a9.com/-/spec/opensearch/1.1/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "georss": "http://www.georss.org/georss",
    "gml": "http://www.opengis.net/gml",
    "eo": "http://a9.com/-/opensearch/extensions/eo/1.0/",
}
_FORMAT_KEYS = ("outputformat", "httpaccept")
_NUMBERS = {"cloudCover"}


def wants_geojson(query):
    """(True, the query pycsw gets) for an OpenSearch GeoJSON request."""
    pairs = parse_qsl(query, keep_blank_values=True)
    lowered = {key.lower(): value for key, value in pairs}
    asked = any(lowered.get(key, "").split(";")[0].strip() == GEOJSON for key in _FORMAT_KEYS)
    if lowered.get("mode") != "opensearch" or not asked:
        return False, query
    kept = [(key, value) for key, value in pairs if key.lower() not in _FORMAT_KEYS]
    return True, urlencode(kept)


def _geometry(entry):
    text = entry.findtext("georss:polygon", namespaces=NS)
    if text:
        numbers = [float(value) for value in text.split()]
        ring = [[lon, lat] for lat, lon in zip(numbers[0::2], numbers[1::2], strict=True)]
        return {"type": "Polygon", "coordinates": [ring]}
    lower = entry.findtext("georss:where//gml:lowerCorner", namespaces=NS)
    upper = entry.findtext("georss:where//gml:upperCorner", namespaces=NS)
    if lower and upper:
        south, west = (float(value) for value in lower.split())
        north, east = (float(value) for value in upper.split())
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        return {"type": "Polygon", "coordinates": [ring]}
    return None


def _feature(entry):
    identifier = entry.findtext("dc:identifier", namespaces=NS) or entry.findtext(
        "atom:id", namespaces=NS
    )
    properties = {
        "identifier": identifier,
        "title": entry.findtext("atom:title", namespaces=NS),
        "updated": entry.findtext("atom:updated", namespaces=NS),
        "date": entry.findtext("dc:date", namespaces=NS),
        "abstract": entry.findtext("atom:summary", namespaces=NS),
        "keyword": [c.get("term") for c in entry.findall("atom:category", NS) if c.get("term")],
    }
    for element in entry:
        if isinstance(element.tag, str) and element.tag.startswith(f"{{{NS['eo']}}}"):
            name = etree.QName(element).localname
            value = element.text
            properties[name] = float(value) if name in _NUMBERS and value else value
    links: dict = {}
    for link in entry.findall("atom:link", NS):
        relation = link.get("rel") or "alternate"
        described = {"href": link.get("href")}
        for key in ("type", "title"):
            if link.get(key):
                described[key] = link.get(key)
        links.setdefault(relation, []).append(described)
    properties["links"] = links
    return {
        "type": "Feature",
        "id": identifier,
        "geometry": _geometry(entry),
        "properties": {key: value for key, value in properties.items() if value is not None},
    }


def atom_to_geojson(atom):
    """The GeoJSON FeatureCollection of an OpenSearch Atom feed (bytes in, bytes out);
    None when ``atom`` is not a feed (an exception report stays as it is)."""
    feed = parse_or_none(atom)
    if feed is None or feed.tag != f"{{{NS['atom']}}}feed":
        return None

    def number(path):
        text = feed.findtext(path, namespaces=NS)
        return int(text) if text and text.isdigit() else None

    collection = {
        "type": "FeatureCollection",
        "id": feed.findtext("atom:id", namespaces=NS),
        "totalResults": number("os:totalResults"),
        "startIndex": number("os:startIndex"),
        "itemsPerPage": number("os:itemsPerPage"),
        "features": [_feature(entry) for entry in feed.findall("atom:entry", NS)],
        "properties": {
            "title": feed.findtext("atom:title", namespaces=NS),
            "updated": feed.findtext("atom:updated", namespaces=NS),
        },
    }
    return json.dumps(collection).encode("utf-8")


def advertise_geojson(description):
    """Add a GeoJSON URL template next to each Atom template of a description."""
    root = parse(description)
    for url in root.findall("os:Url", NS):
        if url.get("type") != "application/atom+xml":
            continue
        clone = copy.deepcopy(url)
        template = clone.get("template", "").replace(
            "outputformat=application/atom%2Bxml", "outputformat=application/geo%2Bjson"
        )
        if "outputformat=" not in template:
            template += "&outputformat=application/geo%2Bjson"
        clone.set("template", template)
        clone.set("type", GEOJSON)
        url.addnext(clone)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
