"""The footprint of a raster's valid pixels as a WGS84 polygon (not just its bbox)."""

from __future__ import annotations

import rasterio
import shapely
from affine import Affine
from rasterio.features import shapes
from rasterio.warp import transform_geom
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

from ogcsdl.errors import IngestError

# The mask is read at this size at most (from the COG's overviews): a footprint needs
# ~100 m detail, not 10 m, and a full tile's mask at full size is 120 MB.
_MASK_SIZE = 1024
# Parts and holes smaller than this share of the valid area are noise (speckle, lone
# nodata pixels), not the shape of the product.
_MIN_AREA_SHARE = 0.001


def _drop_specks(geometry: Polygon | MultiPolygon, min_area: float) -> Polygon | MultiPolygon:
    parts = [geometry] if isinstance(geometry, Polygon) else list(geometry.geoms)
    kept = []
    for part in parts:
        if part.area < min_area:
            continue
        holes = [ring for ring in part.interiors if Polygon(ring).area >= min_area]
        kept.append(Polygon(part.exterior, holes))
    if not kept:
        return geometry
    return kept[0] if len(kept) == 1 else MultiPolygon(kept)


def valid_data_footprint(path: str) -> tuple[str, tuple[float, float, float, float]]:
    """(WKT in EPSG:4326 lon/lat, bbox) of the pixels that are not nodata."""
    with rasterio.open(path) as src:
        scale = max(1.0, max(src.width, src.height) / _MASK_SIZE)
        out_height = max(1, round(src.height / scale))
        out_width = max(1, round(src.width / scale))
        mask = src.dataset_mask(out_shape=(out_height, out_width))
        transform = src.transform @ Affine.scale(src.width / out_width, src.height / out_height)
        crs = src.crs
    valid = mask > 0
    if not valid.any():
        raise IngestError("the raster holds no valid pixels (everything is nodata)")
    polygons = [shape(geom) for geom, _ in shapes(mask, mask=valid, transform=transform)]
    merged = shapely.union_all(polygons)
    pixel = max(abs(transform.a), abs(transform.e))
    merged = _drop_specks(merged, merged.area * _MIN_AREA_SHARE)
    simplified = merged.simplify(pixel, preserve_topology=True)
    # Densify before reprojecting so straight edges in UTM stay true curves in lon/lat.
    if crs.to_epsg() != 4326:
        bounds = simplified.bounds
        step = max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / 32
        simplified = shapely.segmentize(simplified, step)
    geographic = shape(transform_geom(crs, "EPSG:4326", mapping(simplified), precision=7))
    if not geographic.is_valid:
        geographic = shapely.make_valid(geographic)
    if isinstance(geographic, shapely.GeometryCollection) and not isinstance(
        geographic, MultiPolygon
    ):
        geographic = shapely.union_all([g for g in geographic.geoms if g.area > 0])
    minx, miny, maxx, maxy = geographic.bounds
    return geographic.wkt, (minx, miny, maxx, maxy)
