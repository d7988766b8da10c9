"""The client's address behind trusted front proxies (``gateway/forwarded.py``), in-process."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from ogcsdl.config import PROJECT_ROOT, Settings, load_settings
from ogcsdl.gateway.app import create_app
from ogcsdl.gateway.forwarded import PEER_KEY, TrustedProxies, trust_proxies
from tests.processing_support import processing_settings

PROXY = "10.0.0.5"


@Request.application  # type: ignore[arg-type]
def _echo(request: Request) -> Response:
    environ = request.environ
    return Response(f"{environ['REMOTE_ADDR']}|{environ.get(PEER_KEY, '')}|{request.scheme}")


def _seen(peer: str, headers: dict[str, str] | None = None, trusted: Any = None) -> str:
    app = TrustedProxies(_echo, trusted if trusted is not None else ["10.0.0.0/24", "::1"])
    response = Client(app).get("/", headers=headers or {}, environ_base={"REMOTE_ADDR": peer})
    return response.get_data(as_text=True)


def test_trusted_peer_names_the_client() -> None:
    assert _seen(PROXY, {"X-Forwarded-For": "203.0.113.7"}) == f"203.0.113.7|{PROXY}|http"
    forwarded = {"X-Forwarded-For": "2001:db8::7", "X-Forwarded-Proto": "https"}
    assert _seen("::1", forwarded) == "2001:db8::7|::1|https"


def test_untrusted_peer_cannot_choose_its_address() -> None:
    spoofed = {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"}
    assert _seen("192.0.2.9", spoofed) == "192.0.2.9||http"
    assert _seen(PROXY, spoofed, trusted=[]) == f"{PROXY}||http"


def test_chain_of_proxies_takes_the_right_most_untrusted_address() -> None:
    # The client wrote "198.51.100.1" itself; the first proxy appended what it saw.
    chain = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7, 10.0.0.9"}
    assert _seen(PROXY, chain) == f"203.0.113.7|{PROXY}|http"
    # Only proxies: the left-most one is the nearest the client anybody saw.
    assert _seen(PROXY, {"X-Forwarded-For": "10.0.0.8, 10.0.0.9"}) == f"10.0.0.8|{PROXY}|http"


@pytest.mark.parametrize(
    ("forwarded", "seen"),
    [
        ("", PROXY),  # a trusted proxy without the header: the proxy itself
        ("not-an-address", PROXY),
        ("203.0.113.7, garbage", PROXY),
        ("garbage, 203.0.113.7", "203.0.113.7"),  # the client's junk left of the real entry
        ("1.2.3.4:80", PROXY),
        ("[2001:db8::7]", "2001:db8::7"),
    ],
)
def test_malformed_forwarded_for(forwarded: str, seen: str) -> None:
    assert _seen(PROXY, {"X-Forwarded-For": forwarded}).split("|")[0] == seen


def test_no_trusted_proxies_leaves_the_app_unwrapped() -> None:
    assert trust_proxies(_echo, []) is _echo


def test_trusted_proxies_setting_validates_networks() -> None:
    settings = Settings(server={"trusted_proxies": ["127.0.0.1", "172.16.0.0/12", "::1"]})
    assert [str(net) for net in settings.server.trusted_proxies] == [
        "127.0.0.1/32",
        "172.16.0.0/12",
        "::1/128",
    ]
    with pytest.raises(ValidationError):
        Settings(server={"trusted_proxies": ["proxy.example.org"]})


def test_anonymous_quotas_per_forwarded_client(tmp_path: Path) -> None:
    settings = processing_settings(
        tmp_path,
        server={"workers": 1, "trusted_proxies": ["127.0.0.1"]},
        security={"auth": {"quotas": {"requests_per_minute": 2}}},
    )
    app = Client(create_app(settings))

    def status(forwarded_for: str, peer: str = "127.0.0.1") -> int:
        headers = {"X-Forwarded-For": forwarded_for}
        environ = {"REMOTE_ADDR": peer}
        return app.get("/ogcapi/processes", headers=headers, environ_base=environ).status_code

    assert [status("203.0.113.1") for _ in range(3)] == [200, 200, 429]
    # another client behind the same proxy has its own budget
    assert [status("203.0.113.2") for _ in range(3)] == [200, 200, 429]
    # an untrusted peer's X-Forwarded-For is ignored: its own address is its identity
    assert [status(f"198.51.100.{n}", peer="192.0.2.9") for n in range(3)] == [200, 200, 429]


def test_compose_publishes_only_the_front_proxy_and_trusts_it() -> None:
    """docker-compose.yml (no `docker compose` in CI to validate it): the gateway is not
    published, nginx is, with this repository's template, and the production example
    trusts exactly nginx's fixed address."""
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert not any("ports" in service for name, service in services.items() if name != "edge")
    edge = services["edge"]
    assert edge["ports"] == ["5000:80"] and edge["image"].startswith("nginx:")
    source, target = edge["volumes"][0].split(":")[:2]
    assert (PROJECT_ROOT / source).is_file() and target.startswith("/etc/nginx/templates/")
    assert edge["environment"]["OGCSDL_UPSTREAM"] == f"suite:{services['suite']['expose'][0]}"
    production = load_settings(PROJECT_ROOT / "config" / "production.example.yml")
    edge_address = ipaddress.ip_address(edge["networks"]["default"]["ipv4_address"])
    assert [str(net) for net in production.server.trusted_proxies] == [f"{edge_address}/32"]
