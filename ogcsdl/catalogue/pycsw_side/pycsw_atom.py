"""Richer OpenSearch Atom entries (runs INSIDE pycsw's interpreter; imports only pycsw,
lxml and the standard library).

pycsw 2.6.2 writes an Atom entry with identifier, title, ``updated``, keywords and an
envelope, but no acquisition time, footprint or EO attributes, so a broker or harvester
cannot rebuild a product from it. Each entry gets, from the ``records`` row:

* ``dc:date`` ``begin/end`` (OpenSearch Time convention, OGC 10-032),
* ``georss:polygon`` (lat lon pairs) of the footprint,
* ``eo:parentIdentifier``, ``eo:platform``, ``eo:instrument``, ``eo:sensorType``,
  ``eo:productType``, ``eo:processingLevel``, ``eo:cloudCover`` elements (the
  OpenSearch EO namespace) where known,
* download links as ``rel="enclosure"`` with their media type.
"""

from pycsw.core import util
from pycsw.plugins.outputschemas import atom

EO = "http://a9.com/-/opensearch/extensions/eo/1.0/"
DC = "http://purl.org/dc/elements/1.1/"
GEORSS = "http://www.georss.org/georss"
ATOM = "http://www.w3.org/2005/Atom"
DOWNLOAD = "WWW:DOWNLOAD-1.0-http--download"
COG = "image/tiff; application=geotiff; profile=cloud-optimized"

# records column -> eo element
EO_COLUMNS = [
    ("parentidentifier", "parentIdentifier"),
    ("platform", "platform"),
    ("instrument", "instrument"),
    ("sensortype", "sensorType"),
    ("producttype", "productType"),
    ("processinglevel", "processingLevel"),
    ("cloudcover", "cloudCover"),
]


def _polygon(wkt):
    """``POLYGON((lon lat, ...))`` -> GeoRSS ``lat lon lat lon ...`` of the outer ring."""
    if not wkt or not wkt.upper().startswith("POLYGON"):
        return None
    ring = wkt[wkt.index("((") + 2 :].split(")")[0]
    pairs = [point.split() for point in ring.split(",")]
    return " ".join(f"{lat} {lon}" for lon, lat in pairs)


def _enrich(node, result):
    begin = getattr(result, "time_begin", None)
    end = getattr(result, "time_end", None)
    if begin:
        date = node.makeelement(f"{{{DC}}}date")
        date.text = f"{begin}/{end or begin}"
        node.append(date)
    polygon = _polygon(getattr(result, "wkt_geometry", None))
    if polygon:
        element = node.makeelement(f"{{{GEORSS}}}polygon")
        element.text = polygon
        node.append(element)
    for column, name in EO_COLUMNS:
        value = getattr(result, column, None)
        if value not in (None, ""):
            element = node.makeelement(f"{{{EO}}}{name}", nsmap={"eo": EO})
            element.text = str(value)
            node.append(element)
    for link in node.findall(f"{{{ATOM}}}link"):
        if link.get("type") == DOWNLOAD:
            link.set("rel", "enclosure")
            title = link.get("title") or ""
            if "/" in title:  # harvested records keep the media type as description
                link.set("type", title)
            elif link.get("href", "").endswith(".tif"):
                link.set("type", COG)
            else:
                link.set("type", "application/octet-stream")
    return node


def enrich_atom_entries():
    """Wrap pycsw's Atom writer once per process."""
    if getattr(atom, "_ogcsdl_enriched", False):
        return
    original = atom.write_record

    def write_record(result, esn, context, url=None):
        node = original(result, esn, context, url)
        typename = util.getqattr(result, context.md_core_model["mappings"]["pycsw:Typename"])
        if typename == "atom:entry":  # an Atom record stored as-is
            return node
        return _enrich(node, result)

    atom.write_record = write_record
    atom._ogcsdl_enriched = True
