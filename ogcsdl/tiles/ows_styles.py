"""Styles as OGC clients expect them, on top of MapProxy's one-style layers.

Each style variant is generated as its own MapProxy layer ``X.style``. Here the variants
become real styles of layer ``X``: capabilities (WMTS 1.0.0 and WMS 1.3.0) list them as
``<Style>`` elements, and requests naming a style (WMTS ``STYLE`` / REST ``{Style}``,
WMS ``STYLES``) are rewritten to the variant layer before MapProxy sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from lxml import etree

WMTS = "http://www.opengis.net/wmts/1.0"
OWS = "http://www.opengis.net/ows/1.1"
WMS = "http://www.opengis.net/wms"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
_WMS_AFTER_STYLE = {
    f"{{{WMS}}}{name}" for name in ("MinScaleDenominator", "MaxScaleDenominator", "Layer")
}


@dataclass
class StyleIndex:
    # base layer -> {style name: title}; ``defaults`` holds the default style's title.
    variants: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StyleIndex:
        titles = {layer["name"]: layer.get("title", layer["name"]) for layer in config["layers"]}
        index = cls()
        for name, title in titles.items():
            base, _, style = name.rpartition(".")
            if base in titles and style:
                index.variants.setdefault(base, {})[style] = title.partition(": ")[2] or style
                index.defaults[base] = titles[base].partition(": ")[2] or "default"
        return index

    def layer_for(self, layer: str, style: str) -> str | None:
        """The variant layer of ``layer`` drawn in ``style`` (None: not a variant style)."""
        if style in self.variants.get(layer, {}):
            return f"{layer}.{style}"
        return None


def rewrite_request(environ: dict[str, Any], index: StyleIndex) -> None:
    """Point a styled WMTS/WMS request at the variant layer (in place)."""
    path = environ.get("PATH_INFO", "")
    parts = path.split("/")
    # REST: /wmts/{Layer}/{Style}/{TileMatrixSet}/{Time}/{z}/{x}/{y}.{ext}
    if len(parts) >= 4 and parts[1] == "wmts" and parts[2] != "1.0.0":
        variant = index.layer_for(parts[2], parts[3])
        if variant is not None:
            parts[2], parts[3] = variant, "default"
            environ["PATH_INFO"] = "/".join(parts)
        return
    pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    keys = {key.lower(): key for key, _ in pairs}
    values = {key.lower(): value for key, value in pairs}
    request = values.get("request", "").lower()
    if request == "gettile" and "layer" in values and "style" in values:
        variant = index.layer_for(values["layer"], values["style"])
        if variant is None:
            return
        values["layer"], values["style"] = variant, "default"
    elif request == "getmap" and "layers" in values:
        layers = values["layers"].split(",")
        styles = values.get("styles", "").split(",")
        styles += [""] * (len(layers) - len(styles))
        for position, (layer, style) in enumerate(zip(layers, styles, strict=False)):
            variant = index.layer_for(layer, style)
            if variant is not None:
                layers[position], styles[position] = variant, ""
        values["layers"], values["styles"] = ",".join(layers), ",".join(styles)
    else:
        return
    environ["QUERY_STRING"] = urlencode([(keys.get(k, k), v) for k, v in values.items()])


def is_capabilities(environ: dict[str, Any]) -> bool:
    if environ.get("PATH_INFO", "").endswith("/WMTSCapabilities.xml"):
        return True
    pairs = parse_qsl(environ.get("QUERY_STRING", ""))
    return any(k.lower() == "request" and v.lower() == "getcapabilities" for k, v in pairs)


def add_styles(document: bytes, index: StyleIndex) -> bytes:
    """Insert the variant styles into WMTS or WMS 1.3.0 capabilities."""
    root = etree.fromstring(document, _PARSER)
    if root.tag == f"{{{WMTS}}}Capabilities":
        _add_wmts_styles(root, index)
    elif root.tag == f"{{{WMS}}}WMS_Capabilities":
        _add_wms_styles(root, index)
    else:
        return document
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _add_wmts_styles(root: etree._Element, index: StyleIndex) -> None:
    for layer in root.iter(f"{{{WMTS}}}Layer"):
        name = layer.findtext(f"{{{OWS}}}Identifier")
        if name not in index.variants:
            continue
        default = layer.find(f"{{{WMTS}}}Style")
        if default is None:
            continue
        title = etree.Element(f"{{{OWS}}}Title")
        title.text = index.defaults[name]
        default.insert(0, title)
        anchor = default
        for style, text in index.variants[name].items():
            element = etree.Element(f"{{{WMTS}}}Style")
            etree.SubElement(element, f"{{{OWS}}}Title").text = text
            etree.SubElement(element, f"{{{OWS}}}Identifier").text = style
            anchor.addnext(element)
            anchor = element


def _add_wms_styles(root: etree._Element, index: StyleIndex) -> None:
    for layer in root.iter(f"{{{WMS}}}Layer"):
        name = layer.findtext(f"{{{WMS}}}Name")
        if name not in index.variants:
            continue
        position = len(layer)
        for number, child in enumerate(layer):
            if child.tag in _WMS_AFTER_STYLE:
                position = number
                break
        entries = [("default", index.defaults[name]), *index.variants[name].items()]
        for offset, (style, text) in enumerate(entries):
            element = etree.Element(f"{{{WMS}}}Style")
            etree.SubElement(element, f"{{{WMS}}}Name").text = style
            etree.SubElement(element, f"{{{WMS}}}Title").text = text
            layer.insert(position + offset, element)
