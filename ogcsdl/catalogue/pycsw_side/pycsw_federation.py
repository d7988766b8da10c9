"""Distributed search that terminates and stays bounded (runs INSIDE pycsw's
interpreter; imports only pycsw's dependencies and the standard library).

pycsw 2.6.2 forwards a CSW 2.0.2 GetRecords with ``csw:DistributedSearch`` to every
``[server] federatedcatalogues`` entry with OWSLib and merges the answers, but:

* it forwards the ORIGINAL request, hopCount unchanged, so two catalogues federated with
  each other bounce the request between them until something times out; the forwarded
  request here carries ``hopCount - 1`` (and no DistributedSearch at all when no hop is
  left);
* the OWSLib it ships (0.28) drops the timeout in ``http_post``, so a slow peer holds
  the request for as long as it likes; here ``[server] federatedtimeout`` (seconds)
  bounds each peer, whose absence is then noted in the answer as a comment.
"""

import configparser

import requests
from lxml import etree
from owslib import csw as owslib_csw
from owslib.catalogue import csw2
from pycsw_xml import parse

CSW = "http://www.opengis.net/cat/csw/2.0.2"
DEFAULT_HOPS = 2  # CSW 2.0.2: hopCount defaults to 2


def one_hop_less(request):
    """The GetRecords document to send on: hopCount decremented, or the
    DistributedSearch element removed when this was the last hop."""
    root = parse(request)
    for element in root.iter(f"{{{CSW}}}DistributedSearch"):
        try:
            hops = int(element.get("hopCount") or DEFAULT_HOPS) - 1
        except ValueError:
            hops = 0
        if hops > 0:
            element.set("hopCount", str(hops))
        else:
            element.getparent().remove(element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _timeout(config_path):
    config = configparser.ConfigParser(interpolation=None)
    config.read(config_path)
    try:
        return float(config.get("server", "federatedtimeout", fallback="10"))
    except ValueError:
        return 10.0


def bound_distributed_search(config_path):
    """Replace the OWSLib class pycsw imports for distributed search, once per process."""
    if getattr(owslib_csw, "_ogcsdl_federation", False):
        return
    timeout = _timeout(config_path)

    def bounded_post(url, request, lang="en-US", timeout=timeout, *args, **kwargs):
        headers = {"Content-Type": "text/xml", "Accept": "text/xml,application/xml"}
        return requests.post(url, data=request, headers=headers, timeout=timeout)

    csw2.http_post = bounded_post  # only distributed search uses OWSLib in pycsw

    class FederatedPeer(csw2.CatalogueServiceWeb):
        def getrecords2(self, *args, xml=None, **kwargs):
            if xml is not None:
                xml = one_hop_less(xml)
            return super().getrecords2(*args, xml=xml, **kwargs)

    def catalogue_service_web(url, *args, **kwargs):
        """What pycsw calls ``owslib.csw.CatalogueServiceWeb`` (a factory in OWSLib)."""
        kwargs["timeout"] = timeout
        kwargs.pop("version", None)
        return FederatedPeer(url, *args, **kwargs)

    owslib_csw.CatalogueServiceWeb = catalogue_service_web
    owslib_csw._ogcsdl_federation = True
