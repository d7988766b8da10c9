"""Search boxes at the precision the client sent (runs INSIDE pycsw's interpreter;
imports only pycsw and the standard library).

pycsw 2.6.2's ``util.bbox2wktpolygon`` formats every corner with ``%.2f``: a CSW BBOX
filter, an OpenSearch ``bbox`` and the boxes pycsw parses out of harvested or inserted
metadata were rounded to 0.01 degree (up to ~550 m), so a search box found footprints
that lie outside it and missed ones that lie inside (upstream geopython/pycsw#930, fixed
after 2.6 by a configurable precision). Here corners keep every digit (``repr`` of the
float: the shortest text that reads back to the same double).
"""

from pycsw.core import util


def _wkt_polygon(bbox: str) -> str:
    if bbox.startswith("ENVELOPE"):
        bbox = util.wktenvelope2bbox(bbox)
    minx, miny, maxx, maxy = (repr(float(coord)) for coord in bbox.split(","))
    return f"POLYGON(({minx} {miny}, {minx} {maxy}, {maxx} {maxy}, {maxx} {miny}, {minx} {miny}))"


def keep_bbox_precision() -> None:
    """Replace ``util.bbox2wktpolygon`` once per process (pycsw's modules look it up on
    ``util`` at call time)."""
    util.bbox2wktpolygon = _wkt_polygon
