"""Advertise CSW-T Harvest in the CSW 2.0.2 capabilities (runs INSIDE pycsw's
interpreter; imports only lxml and the standard library).

The gateway answers Harvest with the suite's own harvest runner
(``ogcsdl.harvest.csw_t``), so pycsw's transactions stay off and pycsw leaves the
operation out of its capabilities. The suite writes the resource types it harvests into
pycsw.cfg (``[manager] ogcsdl_harvest_resource_types``; absent when Harvest is
disabled) and this module adds a ``Harvest`` operation with them as the
``ResourceType`` values, at the same endpoints as ``GetRecords``.
"""

import configparser
import copy

from lxml import etree
from pycsw_xml import parse_or_none

OWS = "http://www.opengis.net/ows"
CSW = "http://www.opengis.net/cat/csw/2.0.2"
KEY = "ogcsdl_harvest_resource_types"


def resource_types(config_path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config_path)
    text = parser.get("manager", KEY, fallback="")
    return [value.strip() for value in text.split(",") if value.strip()]


def advertise_harvest(contents, types):
    """The capabilities with a Harvest operation (other documents unchanged)."""
    if not types or b"Capabilities" not in contents[:1000]:
        return contents
    root = parse_or_none(contents)
    if root is None or root.tag != f"{{{CSW}}}Capabilities":
        return contents
    metadata = root.find(f"{{{OWS}}}OperationsMetadata")
    if metadata is None:
        return contents
    operations = metadata.findall(f"{{{OWS}}}Operation")
    get_records = next((op for op in operations if op.get("name") == "GetRecords"), None)
    if get_records is None or any(op.get("name") == "Harvest" for op in operations):
        return contents
    harvest = etree.Element(f"{{{OWS}}}Operation", name="Harvest")
    for dcp in get_records.findall(f"{{{OWS}}}DCP"):
        harvest.append(copy.deepcopy(dcp))
    parameter = etree.SubElement(harvest, f"{{{OWS}}}Parameter", name="ResourceType")
    for value in types:
        etree.SubElement(parameter, f"{{{OWS}}}Value").text = value
    operations[-1].addnext(harvest)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
