"""Run by Debian's /usr/bin/python3 (QGIS 3.22 bindings): open a STAC API collection as an
OGC API - Features layer (QGIS's OAPIF provider) and print what QGIS sees as JSON.

Usage: oapif_layer.py LANDING_URL COLLECTION MINX MINY MAXX MAXY"""

import json
import os
import sys

from qgis.core import QgsApplication, QgsFeatureRequest, QgsRectangle, QgsVectorLayer

url, collection = sys.argv[1], sys.argv[2]
app = QgsApplication([], False)
app.initQgis()
rectangle = QgsRectangle(*(float(value) for value in sys.argv[3:7]))
# A small page size makes QGIS follow the API's next links.
layer = QgsVectorLayer(f"url='{url}' typename='{collection}' pageSize='2'", "stac", "OAPIF")
report = {"valid": layer.isValid()}
if not layer.isValid():
    report["error"] = layer.error().summary()
else:
    report["ids"] = sorted(feature["id"] for feature in layer.getFeatures())
    request = QgsFeatureRequest().setFilterRect(rectangle)
    report["in_rectangle"] = sorted(feature["id"] for feature in layer.getFeatures(request))
    report["fields"] = [field.name() for field in layer.fields()]
    report["crs"] = layer.crs().authid()
print(json.dumps(report), flush=True)
# QgsApplication.exitQgis() segfaults headless on 3.22 after network layers (see
# render_layers.py); the report is printed, so leave without Qt's teardown.
os._exit(0)
