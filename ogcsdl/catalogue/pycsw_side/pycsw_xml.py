"""XML read safely on the pycsw side (no entities, no network): requests and pycsw's own
documents alike. A parser per call: lxml parsers must not be shared between threads."""

from lxml import etree


def parse(data, base_url=None):
    """The root element of ``data`` (bytes or str); raises ``etree.XMLSyntaxError``."""
    if isinstance(data, str):
        data = data.encode()
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(data, parser, base_url=base_url)


def parse_or_none(data):
    """The root element of ``data``, or None when it is not well-formed XML."""
    try:
        return parse(data)
    except etree.XMLSyntaxError:
        return None
