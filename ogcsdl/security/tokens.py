"""OIDC bearer tokens: JWTs validated with PyJWT against the configured issuer's JWKS
(signature, ``iss``, ``exp``, ``aud`` if configured), as ``jwt.PyJWKClient`` does, but
with the JWKS fetched through the suite's one checked fetcher (or read from a file)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import jwt

from ogcsdl.config import Settings
from ogcsdl.errors import OgcsdlError
from ogcsdl.jobs.urls import fetch_bytes
from ogcsdl.security.identity import ADMIN, USER, Identity, NotAuthenticated

_JWKS_MAX_BYTES = 1024 * 1024
_REFRESH_MIN_S = 60.0  # an unknown kid refetches the JWKS at most this often


class TokenValidator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.oidc = settings.security.auth.oidc
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return self.oidc.issuer is not None

    def _load_jwks(self) -> dict[str, Any]:
        if self.oidc.jwks_file is not None:
            document = json.loads(self.oidc.jwks_file.read_text(encoding="utf-8"))
        elif self.oidc.jwks_url is not None:
            # The operator configured this URL: trusted to be private (e.g. a local IdP).
            raw = fetch_bytes(self.oidc.jwks_url, self.settings, _JWKS_MAX_BYTES, trusted=True)
            document = json.loads(raw)
        else:
            raise NotAuthenticated("token validation is not configured (no JWKS)", invalid=True)
        keys = {}
        for jwk in jwt.PyJWKSet.from_dict(document).keys:
            keys[jwk.key_id or ""] = jwk.key
        return keys

    def _key(self, kid: str) -> Any:
        with self._lock:
            now = time.monotonic()
            if kid not in self._keys and now - self._fetched_at > _REFRESH_MIN_S:
                self._fetched_at = now  # also after a failure: never a fetch per request
                try:
                    self._keys = self._load_jwks()
                except (OgcsdlError, OSError, ValueError, jwt.PyJWKError):
                    raise NotAuthenticated(
                        "the token issuer's keys cannot be loaded", invalid=True
                    ) from None
            key = self._keys.get(kid)
        if key is None:
            raise NotAuthenticated("the token is signed with an unknown key", invalid=True)
        return key

    def identify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token,
                self._key(str(header.get("kid") or "")),
                algorithms=self.oidc.algorithms,
                audience=self.oidc.audience,
                issuer=self.oidc.issuer,
                options={"require": ["exp", "iss", "sub"], "verify_aud": bool(self.oidc.audience)},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise NotAuthenticated(f"the token is not valid: {exc}", invalid=True) from None
        roles = self._roles(claims)
        return Identity(f"oidc:{claims['sub']}", ADMIN if self.oidc.admin_role in roles else USER)

    def _roles(self, claims: dict[str, Any]) -> list[str]:
        node: Any = claims
        for part in self.oidc.roles_claim.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str):
            return node.split()
        return [str(role) for role in node] if isinstance(node, list) else []
