"""pycsw ``[repository] mappings=`` module: the Earth-observation queryables.

This file runs INSIDE pycsw's own interpreter (the catalogue environment), loaded by
path on every request (pycsw ``server.Csw.__init__``); it must import only pycsw and the
standard library, never ``ogcsdl``.

pycsw 2.6.2's OpenSearch already turns ``eo:platform``, ``eo:instrument``,
``eo:sensorType`` and ``eo:cloudCover`` into filters on ``apiso:Platform``,
``apiso:Instrument``, ``apiso:SensorType`` and ``apiso:CloudCover``, but its apiso profile
defines none of them (they came with pycsw 3). We map them to the extra columns the
suite adds to the ``records`` table (``projection.EXTRA_COLUMNS``), with pycsw 3's names,
so CSW filters, sorting and OpenSearch all reach them.
"""

from copy import deepcopy

from pycsw.core.config import StaticContext
from pycsw.plugins.profiles.apiso import apiso

# pycsw core model key -> records column (keep in step with projection.EXTRA_COLUMNS).
EXTRA_MAPPINGS = {
    "pycsw:Platform": "platform",
    "pycsw:Instrument": "instrument",
    "pycsw:SensorType": "sensortype",
    "pycsw:CloudCover": "cloudcover",
    "pycsw:ProductType": "producttype",
    "pycsw:ProcessingLevel": "processinglevel",
    "pycsw:Bands": "bands",
}

_KEYWORD = (
    "gmd:identificationInfo/gmd:MD_DataIdentification/gmd:descriptiveKeywords"
    "/gmd:MD_Keywords/gmd:keyword/gco:CharacterString"
)
_IMAGE = "gmd:contentInfo/gmd:MD_ImageDescription"

# apiso queryable -> (core model key, xpath in the ISO document).
EO_QUERYABLES = {
    "apiso:Platform": ("pycsw:Platform", _KEYWORD),
    "apiso:Instrument": ("pycsw:Instrument", _KEYWORD),
    "apiso:SensorType": ("pycsw:SensorType", _KEYWORD),
    "apiso:CloudCover": ("pycsw:CloudCover", f"{_IMAGE}/gmd:cloudCoverPercentage/gco:Real"),
    "apiso:ProductType": ("pycsw:ProductType", _KEYWORD),
    "apiso:ProcessingLevel": (
        "pycsw:ProcessingLevel",
        f"{_IMAGE}/gmd:processingLevelCode/gmd:RS_Identifier/gmd:code/gco:CharacterString",
    ),
    "apiso:Bands": (
        "pycsw:Bands",
        f"{_IMAGE}/gmd:dimension/gmd:MD_Band/gmd:sequenceIdentifier/gco:MemberName/gco:aName",
    ),
}

MD_CORE_MODEL = deepcopy(StaticContext().md_core_model)
MD_CORE_MODEL["mappings"].update(EXTRA_MAPPINGS)


def _add_eo_queryables() -> None:
    """Wrap ``APISO.__init__`` once per process so every profile instance (one per
    request) carries the EO queryables as ``AdditionalQueryables``."""
    if getattr(apiso.APISO, "_ogcsdl_eo_queryables", False):
        return
    original_init = apiso.APISO.__init__

    def __init__(self, model, namespaces, context):
        original_init(self, model, namespaces, context)
        mappings = context.md_core_model["mappings"]
        additional = self.repository["queryables"].setdefault("AdditionalQueryables", {})
        for name, (key, xpath) in EO_QUERYABLES.items():
            if key in mappings:
                additional[name] = {"xpath": xpath, "dbcol": mappings[key]}

    apiso.APISO.__init__ = __init__
    apiso.APISO._ogcsdl_eo_queryables = True


_add_eo_queryables()
