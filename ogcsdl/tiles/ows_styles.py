"""Styles as OGC clients expect them, on top of MapProxy's one-style layers.

Each style variant is generated as its own MapProxy layer ``X.style``. Here the variants
become real styles of layer ``X``: capabilities (WMTS 1.0.0, WMS 1.3.0 and 1.1.1) list them as
``<Style>`` elements, and requests naming a style (WMTS ``STYLE`` / REST ``{Style}``,
WMS ``STYLES``) are rewritten to the variant layer before MapProxy sees them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from lxml import etree

from ogcsdl.tiles.layers import LayerModel

WMTS = "http://www.opengis.net/wmts/1.0"
OWS = "http://www.opengis.net/ows/1.1"
WMS = "http://www.opengis.net/wms"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
_WMS_AFTER_STYLE = ("MinScaleDenominator", "MaxScaleDenominator", "ScaleHint", "Layer")


def rewrite_request(environ: dict[str, Any], model: LayerModel) -> None:
    """Point a styled WMTS/WMS request at the variant layer (in place)."""
    path = environ.get("PATH_INFO", "")
    parts = path.split("/")
    # REST: /wmts/{Layer}/{Style}/{TileMatrixSet}/{Time}/{z}/{x}/{y}.{ext}
    if len(parts) >= 4 and parts[1] == "wmts" and parts[2] != "1.0.0":
        variant = model.variant(parts[2], parts[3])
        if variant is not None:
            parts[2], parts[3] = variant.name, "default"
            environ["PATH_INFO"] = "/".join(parts)
        return
    pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    keys = {key.lower(): key for key, _ in pairs}
    values = {key.lower(): value for key, value in pairs}
    request = values.get("request", "").lower()
    if request == "gettile" and "layer" in values and "style" in values:
        variant = model.variant(values["layer"], values["style"])
        if variant is None:
            return
        values["layer"], values["style"] = variant.name, "default"
    elif request == "getmap" and "layers" in values:
        layers = values["layers"].split(",")
        styles = values.get("styles", "").split(",")
        styles += [""] * (len(layers) - len(styles))
        for position, (layer, style) in enumerate(zip(layers, styles, strict=False)):
            found = model.variant(layer, style)
            if found is not None:
                layers[position], styles[position] = found.name, ""
        values["layers"], values["styles"] = ",".join(layers), ",".join(styles)
    else:
        return
    environ["QUERY_STRING"] = urlencode([(keys.get(k, k), v) for k, v in values.items()])


def is_capabilities(environ: dict[str, Any]) -> bool:
    if environ.get("PATH_INFO", "").endswith("/WMTSCapabilities.xml"):
        return True
    pairs = parse_qsl(environ.get("QUERY_STRING", ""))
    return any(k.lower() == "request" and v.lower() == "getcapabilities" for k, v in pairs)


def add_styles(document: bytes, model: LayerModel) -> bytes:
    """Insert the variant styles into WMTS, WMS 1.3.0 or WMS 1.1.1 capabilities."""
    root = etree.fromstring(document, _PARSER)
    if root.tag == f"{{{WMTS}}}Capabilities":
        _add_wmts_styles(root, model)
    elif root.tag == f"{{{WMS}}}WMS_Capabilities":
        _add_wms_styles(root, model, f"{{{WMS}}}")
    elif root.tag == "WMT_MS_Capabilities":  # WMS 1.1.1
        _add_wms_styles(root, model, "")
        _wms111_time_extents(root)
    else:
        return document
    # The tree, not the root: WMS 1.1.1 keeps its DOCTYPE.
    return bytes(etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"))


def _add_wmts_styles(root: etree._Element, model: LayerModel) -> None:
    for layer in root.iter(f"{{{WMTS}}}Layer"):
        styles = model.styles(layer.findtext(f"{{{OWS}}}Identifier") or "")
        default = layer.find(f"{{{WMTS}}}Style")
        if len(styles) < 2 or default is None:
            continue
        title = etree.Element(f"{{{OWS}}}Title")
        title.text = styles[0].style.title
        default.insert(0, title)
        anchor = default
        for variant in styles[1:]:
            element = etree.Element(f"{{{WMTS}}}Style")
            etree.SubElement(element, f"{{{OWS}}}Title").text = variant.style.title
            etree.SubElement(element, f"{{{OWS}}}Identifier").text = variant.style.name
            anchor.addnext(element)
            anchor = element


def _add_wms_styles(root: etree._Element, model: LayerModel, namespace: str) -> None:
    """WMS 1.3.0 (namespaced) or 1.1.1 (no namespace): ``<Style>`` goes before the
    scale hints/denominators and the child layers, as both schemas order them."""
    after_style = {f"{namespace}{name}" for name in _WMS_AFTER_STYLE}
    for layer in root.iter(f"{namespace}Layer"):
        styles = model.styles(layer.findtext(f"{namespace}Name") or "")
        if len(styles) < 2:
            continue
        position = len(layer)
        for number, child in enumerate(layer):
            if child.tag in after_style:
                position = number
                break
        for offset, variant in enumerate(styles):
            element = etree.Element(f"{namespace}Style")
            name = "default" if offset == 0 else variant.style.name
            etree.SubElement(element, f"{namespace}Name").text = name
            etree.SubElement(element, f"{namespace}Title").text = variant.style.title
            layer.insert(position + offset, element)


def _wms111_time_extents(root: etree._Element) -> None:
    """WMS 1.1.1 declares a dimension with an empty ``<Dimension>`` and lists its values
    in ``<Extent>`` (1.3.0 merged the two). MapProxy 7.0.0 writes the 1.3.0 form in both
    versions, so 1.1.1 clients (OWSLib, QGIS) would see no TIME values."""
    for layer in root.iter("Layer"):
        dimensions = layer.findall("Dimension")
        if not dimensions:
            continue
        anchor = dimensions[-1]
        for dimension in dimensions:
            extent = etree.Element("Extent", name=dimension.get("name", ""))
            for key in ("default", "nearestValue"):
                if key in dimension.attrib:
                    extent.set(key, dimension.attrib.pop(key))
            extent.text, dimension.text = dimension.text, None
            extent.tail, anchor.tail = anchor.tail, "\n      "
            anchor.addnext(extent)
            anchor = extent
