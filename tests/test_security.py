"""Access control and quotas in-process (werkzeug's test client over the gateway as
gunicorn runs it): credentials, roles, 401/403/429 as OGC exceptions, OIDC tokens
against a JWKS served on loopback, and the ``ogcsdl keys`` command. Nothing here runs a
job: refused requests never reach a service, allowed ones stop at a cheap answer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from werkzeug.test import Client, TestResponse

from ogcsdl.cli import cli
from ogcsdl.config import Settings
from ogcsdl.gateway.app import create_app
from ogcsdl.security.keys import KeyStore, digest
from tests.canary import canary_server
from tests.processing_support import processing_settings

OWS = "{http://www.opengis.net/ows/1.1}"
ISSUER = "https://login.example.test/realms/eo"
EXECUTE_XML = b"""<?xml version="1.0"?>
<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0"
    xmlns:ows="http://www.opengis.net/ows/1.1"><ows:Identifier>echo</ows:Identifier>
</wps:Execute>"""
CONFIG_KEY = "ogk_cfg001_" + "s" * 43


def _settings(tmp_path: Path, **auth: Any) -> Settings:
    auth.setdefault("api_keys", [{"id": "cfg001", "user": "carol", "sha256": digest(CONFIG_KEY)}])
    return processing_settings(tmp_path, security={"auth": auth})


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def _ows_code(response: TestResponse) -> str:
    exception = etree.fromstring(response.get_data()).find(f"{OWS}Exception")
    assert exception is not None
    return str(exception.get("exceptionCode"))


@pytest.fixture
def client(tmp_path: Path) -> Client:
    return Client(create_app(_settings(tmp_path)))


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/wps?service=WPS&version=1.0.0&request=Execute&identifier=echo", {}),
        ("GET", "/wps?service=WPS&REQUEST=execute&request=GetCapabilities&identifier=echo", {}),
        ("POST", "/wps", {"data": EXECUTE_XML, "content_type": "text/xml"}),
        (
            "POST",
            "/wps",
            {
                "input_stream": __import__("io").BytesIO(EXECUTE_XML),
                "headers": {"Transfer-Encoding": "chunked"},
                "content_type": "text/xml",
            },
        ),
        ("GET", "/csw?service=CSW&version=2.0.2&request=Harvest&source=http://x", {}),
    ],
)
def test_anonymous_compute_is_401_exception_report(
    client: Client, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    response = client.open(path, method=method, **kwargs)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _ows_code(response) == "NotAuthenticated"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/ogcapi/processes/echo/execution"),
        ("DELETE", "/ogcapi/jobs/8b0e9d1c-8f3b-4a8e-9d38-0c8f4c1b2a10"),
        ("GET", "/ogcapi/jobs"),
    ],
)
def test_anonymous_jobs_are_401_problem_json(client: Client, method: str, path: str) -> None:
    response = client.open(path, method=method, json={"inputs": {"stringInput": "x"}})
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json["title"] == "NotAuthenticated"
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_refusals_carry_cors_headers(client: Client) -> None:
    """A browser page must be able to read a 401 (and a preflight passes access control)."""
    refused = client.post(
        "/ogcapi/processes/echo/execution",
        json={"inputs": {"stringInput": "x"}},
        headers={"Origin": "https://viewer.example"},
    )
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert refused.headers.getlist("Access-Control-Allow-Origin") == ["*"]
    preflight = client.options(
        "/ogcapi/processes/echo/execution",
        headers={"Origin": "https://viewer.example", "Access-Control-Request-Method": "POST"},
    )
    assert (
        preflight.status_code == 204 and "POST" in preflight.headers["Access-Control-Allow-Methods"]
    )


def test_discovery_stays_open(client: Client) -> None:
    assert client.get("/ogcapi/processes").status_code == 200
    capabilities = client.get("/wps?service=WPS&request=GetCapabilities")
    assert capabilities.status_code == 200 and b"Capabilities" in capabilities.get_data()


def test_discovery_can_be_closed(tmp_path: Path) -> None:
    closed = Client(create_app(_settings(tmp_path, open_discovery=False)))
    assert closed.get("/ogcapi/processes").status_code == 401
    assert closed.get("/ogcapi/processes", headers=_bearer(CONFIG_KEY)).status_code == 200
    assert closed.get("/health").status_code in (200, 503)  # never asks for a credential


def test_keys_from_database_and_config_and_revocation(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = Client(create_app(settings))
    key_id, key = KeyStore(settings).create("alice")
    assert app.get("/ogcapi/jobs", headers=_bearer(key)).status_code == 200
    assert app.get("/ogcapi/jobs", headers=_bearer(CONFIG_KEY)).status_code == 200
    wrong = app.get("/ogcapi/jobs", headers=_bearer(key[:-2] + "xx"))
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert KeyStore(settings).revoke(key_id)
    assert app.get("/ogcapi/jobs", headers=_bearer(key)).status_code == 401


def test_transactions_need_the_admin_role(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = Client(create_app(settings))
    _, user_key = KeyStore(settings).create("alice")
    _, admin_key = KeyStore(settings).create("root", "admin")
    body = b'<csw:Transaction xmlns:csw="http://www.opengis.net/cat/csw/2.0.2"/>'
    denied = app.post("/csw", data=body, content_type="text/xml", headers=_bearer(user_key))
    assert denied.status_code == 403 and _ows_code(denied) == "AccessDenied"
    assert "insufficient_scope" in denied.headers["WWW-Authenticate"]
    passed = app.post("/csw", data=body, content_type="text/xml", headers=_bearer(admin_key))
    assert passed.status_code not in (401, 403)  # reaches the catalogue (down here: 5xx)


def test_requests_per_minute_answer_429_with_retry_after(tmp_path: Path) -> None:
    # Each gateway worker allows its share (3 / 1 worker here).
    settings = processing_settings(
        tmp_path,
        server={"workers": 1},
        security={"auth": {"quotas": {"requests_per_minute": 3}, "anonymous_processing": "never"}},
    )
    app = Client(create_app(settings))
    _, key = KeyStore(settings).create("erin")
    codes = [app.get("/ogcapi/processes").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    limited = app.get("/ogcapi/processes")
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert limited.json["title"] == "TooManyRequests"
    # another user has their own budget
    assert app.get("/ogcapi/processes", headers=_bearer(key)).status_code == 200


def test_image_and_input_size_limits(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, quotas={"max_image_pixels": 1000 * 1000, "max_input_bytes": 2048}
    )
    app = Client(create_app(settings))
    getmap = "/maps/service?service=WMS&request=GetMap&width=5000&height=5000&layers=x"
    too_big = app.get(getmap)
    # A WMS request is refused with a WMS ServiceExceptionReport (the mount's style).
    report = etree.fromstring(too_big.get_data())
    wms = report.find("{http://www.opengis.net/ogc}ServiceException")
    assert too_big.status_code == 400 and wms is not None
    assert wms.get("code") == "InvalidParameterValue"
    coverage = app.get(
        "/wcs?service=WCS&request=GetCoverage&coverageId=x&scalesize=i(4000),j(4000)"
    )
    assert coverage.status_code == 400
    big_input = {"inputs": {"stringInput": "x" * 5000}}
    response = app.post(
        "/ogcapi/processes/echo/execution", json=big_input, headers=_bearer(CONFIG_KEY)
    )
    assert response.status_code == 413


def test_anonymous_processing_auto_only_without_credentials_on_loopback(tmp_path: Path) -> None:
    no_keys = processing_settings(tmp_path / "a")
    open_app = Client(create_app(no_keys))
    assert open_app.get("/ogcapi/jobs").status_code == 200  # a local demo: open
    public = processing_settings(tmp_path / "b", server={"host": "0.0.0.0"})  # noqa: S104
    assert Client(create_app(public)).get("/ogcapi/jobs").status_code == 401
    KeyStore(no_keys).create("alice")
    assert Client(create_app(no_keys)).get("/ogcapi/jobs").status_code == 401


# OIDC ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[tuple[str, list[Any]]]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    document = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]})
    with canary_server(responder=lambda _: (200, {}, document.encode())) as server:
        yield server.url + "/certs", server.hits


def _token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "u-42", "aud": "ogcsdl", "iat": now, "exp": now + 300}
    body.update(claims)
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


def test_oidc_tokens(
    tmp_path: Path, signing_key: rsa.RSAPrivateKey, jwks_url: tuple[str, list[Any]]
) -> None:
    url, hits = jwks_url
    oidc = {"issuer": ISSUER, "audience": "ogcsdl", "jwks_url": url}
    app = Client(create_app(_settings(tmp_path, oidc=oidc)))
    assert app.get("/ogcapi/jobs", headers=_bearer(_token(signing_key))).status_code == 200
    assert app.get("/ogcapi/jobs", headers=_bearer(_token(signing_key))).status_code == 200
    assert len(hits) == 1  # the JWKS is cached
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (
        _token(signing_key, exp=int(time.time()) - 3600),
        _token(signing_key, iss="https://evil.example"),
        _token(signing_key, aud="someone-else"),
        _token(other),  # right kid, wrong signature
        "not-a-jwt",
    ):
        response = app.get("/ogcapi/jobs", headers=_bearer(bad))
        assert response.status_code == 401, bad
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    body = b'<csw:Harvest xmlns:csw="http://www.opengis.net/cat/csw/2.0.2"/>'
    user = _bearer(_token(signing_key))
    admin = _bearer(_token(signing_key, roles=["admin"]))
    assert app.post("/csw", data=body, content_type="text/xml", headers=user).status_code == 403
    assert app.post("/csw", data=body, content_type="text/xml", headers=admin).status_code not in (
        401,
        403,
    )


def test_keys_command(tmp_path: Path) -> None:
    config = tmp_path / "ogcsdl.yml"
    config.write_text(f"data_dir: {tmp_path / 'var'}\n")
    runner = CliRunner()
    created = runner.invoke(cli, ["--config", str(config), "keys", "create", "--user", "dana"])
    assert created.exit_code == 0, created.output
    key = next(line.split()[-1] for line in created.output.splitlines() if line.startswith("key:"))
    key_id = key.split("_")[1]
    listed = runner.invoke(cli, ["--config", str(config), "keys", "list"])
    assert key_id in listed.output and "dana" in listed.output and key not in listed.output
    settings = Settings(data_dir=tmp_path / "var")
    assert KeyStore(settings).identify(key) is not None
    revoked = runner.invoke(cli, ["--config", str(config), "keys", "revoke", key_id])
    assert revoked.exit_code == 0 and KeyStore(settings).identify(key) is None


def test_open_requests_go_on_when_the_key_store_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/health must be able to say the database is down to a caller that sends a key."""
    from ogcsdl.errors import ServiceUnavailable

    def unreachable(self: KeyStore, credential: str) -> None:
        raise ServiceUnavailable("cannot reach the database")

    monkeypatch.setattr(KeyStore, "identify", unreachable)
    client = Client(create_app(_settings(tmp_path)))
    health = client.get("/health", headers=_bearer(CONFIG_KEY))
    assert health.status_code in (200, 503)
    assert "components" in health.get_json()
    refused = client.get("/jobs", headers=_bearer(CONFIG_KEY))  # not open: still refused
    assert refused.status_code == 503
