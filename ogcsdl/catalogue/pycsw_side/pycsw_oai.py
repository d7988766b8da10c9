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
  (:func:`expand_resumption_token` restores them before pycsw sees the request);
* finds each header's identifier, datestamp and set with an XPath from the root of the
  whole GetRecords answer (``//gmd:fileIdentifier/...``: the first record not yet moved
  into the OAI-PMH list, which is the current one), so a page of n records walks the
  remaining answer 3n times: most of a ListRecords page's time. The same XPath is
  evaluated within that record instead (:func:`headers_from_the_record`).
"""

import base64
import json
import re
from urllib.parse import parse_qsl, urlencode

from lxml import etree
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


_FROM_ROOT = re.compile(r"(^|\|)//")


def _current_record(answer):
    """The first record still in pycsw's GetRecords/GetRecordById answer (pycsw moves
    each record into the OAI-PMH list after writing its header), or None."""
    if not isinstance(answer.tag, str):
        return None
    name = etree.QName(answer).localname
    if name == "GetRecordsResponse":
        results = [c for c in answer if isinstance(c.tag, str) and c.tag.endswith("}SearchResults")]
        answer = results[0] if results else None
    elif name != "GetRecordByIdResponse":
        return None
    if answer is None:
        return None
    return next((child for child in answer if isinstance(child.tag, str)), None)


def headers_from_the_record():
    """Replace ``OAIPMH._transform_element`` once per process: the same header values,
    read from the current record rather than searched for in the whole answer."""
    if getattr(oaipmh.OAIPMH, "_ogcsdl_headers", False):
        return
    original = oaipmh.OAIPMH._transform_element

    def transform(self, parent, element, elname):
        xpath = self.metadata_formats[self.metadata_prefix][elname.split(":")[1]]
        record = _current_record(element) if xpath.startswith("//") else None
        if record is None:
            return original(self, parent, element, elname)
        found = record.xpath(
            _FROM_ROOT.sub(r"\1descendant-or-self::", xpath), namespaces=self.context.namespaces
        )
        value = found[0].text if found else None
        node = etree.SubElement(parent, oaipmh.util.nspath_eval(elname, self.context.namespaces))
        if value:
            if elname == "oai:setSpec":
                value = None
                for key, spec in self.metadata_sets.items():
                    if spec[1] == elname:
                        value = key
                        break
            node.text = value

    oaipmh.OAIPMH._transform_element = transform
    oaipmh.OAIPMH._ogcsdl_headers = True
