"""pygeoapi's rasterio coverage provider, with the product's own bands.

pygeoapi 0.21's ``RasterioProvider`` names fields "1".."n" with no titles (it reads band
names from GRIB tags only), and its CoverageJSON writes every band into one parameter
named ``null`` on an axis built from the request box instead of pixel centres. This
subclass keeps its reading and subsetting and changes only what it says about bands:
fields and ``properties`` are band names (``B04``), and CoverageJSON has one parameter
and one range per band on the grid of the pixels returned.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pygeoapi.provider.base import ProviderInvalidQueryError
from pygeoapi.provider.rasterio_ import RasterioProvider

# A CoverageJSON document holds every value as JSON text: refuse what no browser or
# client would want (about 100 MB of text); GeoTIFF has no such limit here.
MAX_COVJSON_VALUES = 4_000_000


class ProductCoverageProvider(RasterioProvider):
    def __init__(self, provider_def: dict[str, Any]) -> None:
        self._bands: list[dict[str, Any]] = list(provider_def.get("bands") or [])
        super().__init__(provider_def)

    def band_names(self) -> list[dict[str, Any]]:
        """One entry per band of the file: the record's bands when they match its count,
        else the file's own descriptions."""
        if len(self._bands) == self._data.count:
            return self._bands
        return [
            {"name": description or f"band_{index}", "description": description or ""}
            for index, description in enumerate(self._data.descriptions, start=1)
        ]

    def get_fields(self) -> dict[str, Any]:
        if not self._fields:
            for band, dtype in zip(self.band_names(), self._data.dtypes, strict=True):
                kind = "number" if dtype.startswith("float") else "integer"
                field: dict[str, Any] = {
                    "title": band.get("description") or band["name"],
                    "type": kind,
                    "x-ogc-dataType": dtype,
                }
                if band.get("unit"):
                    field["x-ogc-unit"] = band["unit"]
                self._fields[band["name"]] = field
        return self._fields

    def query(
        self,
        properties: list[str] | None = None,
        subsets: dict[str, Any] | None = None,
        bbox: list[float] | None = None,
        bbox_crs: int = 4326,
        datetime_: str | None = None,
        format_: str = "json",
        **kwargs: Any,
    ) -> Any:
        names = [band["name"] for band in self.band_names()]
        indexes = [str(names.index(name) + 1) for name in properties or []]
        if indexes:
            # pygeoapi writes a band subset into a GeoTIFF profile of every band; its
            # provider options are merged into that profile.
            options: dict[str, Any] = dict(getattr(self, "options", None) or {})
            setattr(self, "options", {**options, "count": len(indexes)})  # noqa: B010
        return super().query(
            properties=indexes,
            subsets=subsets or {},
            bbox=bbox,
            bbox_crs=bbox_crs,
            datetime_=datetime_,
            format_=format_,
            **kwargs,
        )

    def gen_covjson(self, metadata: dict[str, Any], data: Any) -> dict[str, Any]:
        bands = self.band_names()
        chosen = metadata.get("bands") or list(range(1, len(bands) + 1))
        height, width = int(metadata["height"]), int(metadata["width"])
        if height * width * len(chosen) > MAX_COVJSON_VALUES:
            raise ProviderInvalidQueryError(
                user_msg=f"{width}x{height}x{len(chosen)} values are too many for CoverageJSON: "
                "ask for a smaller bbox/subset, fewer properties, or f=GTiff"
            )
        transform = metadata["transform"]
        x0, y0 = transform.c + transform.a / 2, transform.f + transform.e / 2
        crs = self._data.crs
        epsg = crs.to_epsg() if crs is not None else None
        system = {
            "type": "ProjectedCRS" if crs is not None and crs.is_projected else "GeographicCRS",
            "id": f"http://www.opengis.net/def/crs/EPSG/0/{epsg}"
            if epsg
            else "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        }
        values: np.ma.MaskedArray = np.ma.masked_invalid(np.ma.asarray(data, dtype="float64"))
        nodata = self._data.nodata
        if nodata is not None:
            values = np.ma.masked_equal(values, nodata)
        parameters: dict[str, Any] = {}
        ranges: dict[str, Any] = {}
        for position, index in enumerate(chosen):
            band = bands[int(index) - 1]
            name = band["name"]
            parameter: dict[str, Any] = {
                "type": "Parameter",
                "description": {"en": band.get("description") or name},
                "observedProperty": {"id": name, "label": {"en": band.get("description") or name}},
            }
            if band.get("unit"):
                parameter["unit"] = {"symbol": band["unit"]}
            parameters[name] = parameter
            ranges[name] = {
                "type": "NdArray",
                "dataType": "float",
                "axisNames": ["y", "x"],
                "shape": [height, width],
                "values": values[position].filled(np.nan).ravel().tolist(),
            }
            ranges[name]["values"] = [None if v != v else v for v in ranges[name]["values"]]
        return {
            "type": "Coverage",
            "domain": {
                "type": "Domain",
                "domainType": "Grid",
                "axes": {
                    "x": {"start": x0, "stop": x0 + (width - 1) * transform.a, "num": width},
                    "y": {"start": y0, "stop": y0 + (height - 1) * transform.e, "num": height},
                },
                "referencing": [{"coordinates": ["x", "y"], "system": system}],
            },
            "parameters": parameters,
            "ranges": ranges,
        }
