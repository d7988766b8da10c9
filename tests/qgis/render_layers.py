"""Run with Debian's /usr/bin/python3 (python3-qgis): load a WMTS, a WMS (with TIME) and a
WCS layer from the given base URL, render each to a PNG and print one JSON line with the
number of non-transparent pixels per layer. Kept free of ogcsdl imports on purpose."""

import json
import os
import sys

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def render(layer, extent_4326, path):
    settings = QgsMapSettings()
    settings.setLayers([layer])
    crs = layer.crs()
    settings.setDestinationCrs(crs)
    transform = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"), crs, QgsProject.instance()
    )
    settings.setExtent(transform.transformBoundingBox(extent_4326))
    settings.setOutputSize(QSize(256, 256))
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(path)
    painted = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            if QColor(image.pixel(x, y)).alpha() > 0 and QColor(image.pixel(x, y)).red() > 0:
                painted += 1
    return painted


def main():
    base, out_dir, west, south, east, north, time_value = sys.argv[1:8]
    product = sys.argv[8] if len(sys.argv) > 8 else "s2-qgis"
    from qgis.core import QgsRectangle

    extent = QgsRectangle(float(west), float(south), float(east), float(north))
    app = QgsApplication([], False)
    app.initQgis()
    sources = {
        "wmts": (
            "contextualWMSLegend=0&crs=EPSG:3857&dpiMode=7&format=image/png&layers="
            + product
            + "&styles=default&tileMatrixSet=GoogleMapsCompatible&tileDimensions=Time%3D"
            + time_value
            + "&url="
            + base
            + "/maps/wmts/1.0.0/WMTSCapabilities.xml",
            "wms",
        ),
        "wms": (
            "crs=EPSG:4326&format=image/png&layers=sentinel-2-l2a&styles="
            "&url=" + base + "/maps/service&version=1.3.0&TIME=" + time_value,
            "wms",
        ),
        # QGIS's own "wcs" provider speaks WCS 1.0/1.1 only; QGIS opens WCS 2.0 coverages
        # through its GDAL provider (GDAL's WCS driver), as its browser does.
        "wcs": ("WCS:" + base + "/wcs?version=2.0.1&coverage=" + product, "gdal"),
    }
    result = {}
    for name, (uri, provider) in sources.items():
        layer = QgsRasterLayer(uri, name, provider)
        if not layer.isValid():
            result[name] = {"valid": False, "error": layer.error().summary()}
            continue
        if name == "wcs":
            from qgis.core import QgsContrastEnhancement

            layer.setContrastEnhancement(QgsContrastEnhancement.StretchToMinimumMaximum)
        painted = render(layer, extent, f"{out_dir}/{name}.png")
        result[name] = {"valid": True, "painted": painted}
    print(json.dumps(result), flush=True)
    # QgsApplication.exitQgis() segfaults headless on 3.22 after network layers; the
    # result is printed, so leave without Qt's teardown.
    os._exit(0)


main()
