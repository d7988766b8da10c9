"""OAI-PMH paging and selective harvesting that brokers can rely on (runs INSIDE
pycsw's interpreter; imports only pycsw and the standard library).

pycsw 2.6.2's OAI-PMH, as shipped:

* gives the LAST page a resumption token "0" (its ``nextRecord``), so a broker asks for
  page "0" and starts over, forever; a complete list must end with an empty token;
* computes ``cursor`` as ``completeListSize - nextRecord - 1`` instead of the position
  of the page's first record;
* lists records in no defined order, so offsets can skip or repeat records between
  pages;
* applies ``from``/``until`` to ``dc:date`` (the acquisition date here) rather than the
  record's datestamp (its modification date), which is what the headers show;
* wants ``metadataPrefix`` with every resumption request, while OAI-PMH forbids any
  argument besides ``resumptionToken``: our tokens carry the position AND the
  request's selection (prefix, from, until, set), opaque to the client
  (:func:`expand_resumption_token` restores them before pycsw sees the request).
"""

import base64
import json
from urllib.parse import parse_qsl, urlencode

from pycsw import oaipmh

OAI = "http://www.openarchives.org/OAI/2.0/"
LISTS = ("ListRecords", "ListIdentifiers")


_SELECTION = ("metadataprefix", "from", "until", "set")
_NAMES = {"metadataprefix": "metadataPrefix"}


def _token(position, kvp):
    selection = {key: kvp[key] for key in _SELECTION if kvp.get(key)}
    text = json.dumps([position, selection], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(token):
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        position, selection = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(position, int) or position < 1 or not isinstance(selection, dict):
        return None
    if not all(key in _SELECTION and isinstance(v, str) for key, v in selection.items()):
        return None
    return position, selection


def expand_resumption_token(query):
    """The query string pycsw gets for an OAI-PMH request: a resumption token of ours is
    replaced by its position and the original selection. Returns None for a token we
    did not issue (a ``badResumptionToken`` error)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    keys = {key.lower(): value for key, value in pairs}
    if keys.get("mode") != "oaipmh" or "resumptiontoken" not in keys:
        return query
    decoded = _decode(keys["resumptiontoken"])
    if decoded is None:
        return None
    position, selection = decoded
    rest = [(k, v) for k, v in pairs if k.lower() not in ("resumptiontoken", *_SELECTION)]
    restored = [(_NAMES.get(key, key), value) for key, value in selection.items()]
    return urlencode([*rest, ("resumptionToken", str(position)), *restored])


def _start(kvp):
    token = kvp.get("resumptiontoken")
    try:
        return max(int(token), 1) if token else 1
    except ValueError:
        return 1


def fix_oai_paging():
    """Wrap ``OAIPMH.request`` and ``OAIPMH.response`` once per process."""
    if getattr(oaipmh.OAIPMH, "_ogcsdl_paging", False):
        return
    original_request = oaipmh.OAIPMH.request
    original_response = oaipmh.OAIPMH.response

    def request(self, kvp):
        kvpout = original_request(self, kvp)
        if kvp.get("verb") in LISTS:
            kvpout["sortby"] = "dc:identifier:A"
            constraint = kvpout.get("constraint")
            if constraint:
                kvpout["constraint"] = constraint.replace("dc:date", "dct:modified")
        return kvpout

    def response(self, csw_response, kvp, repository, server_url):
        verb = kvp.get("verb")  # pycsw pops it
        node = original_response(self, csw_response, kvp, repository, server_url)
        if verb not in LISTS:
            return node
        for token in node.iter(f"{{{OAI}}}resumptionToken"):
            size = int(token.get("completeListSize") or 0)
            following = int(token.text or 0) if (token.text or "").isdigit() else 0
            start = _start(kvp)
            token.set("cursor", str(start - 1))
            if following == 0 or following > size:  # this page ends the list
                if "resumptiontoken" in kvp:
                    token.text = None
                else:
                    token.getparent().remove(token)
            else:
                token.text = _token(following, kvp)
        return node

    oaipmh.OAIPMH.request = request
    oaipmh.OAIPMH.response = response
    oaipmh.OAIPMH._ogcsdl_paging = True
