"""Who is asking: the identity the access-control middleware puts in the WSGI environ,
the errors it answers with, and the job-owner rules the processing apps apply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ogcsdl.errors import OgcsdlError

IDENTITY_KEY = "ogcsdl.identity"
ANONYMOUS = "anonymous"
USER, ADMIN = "user", "admin"


@dataclass(frozen=True)
class Identity:
    user: str  # "anonymous", "key:<name>" or "oidc:<sub>"
    role: str  # "anonymous", "user" or "admin"

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def is_anonymous(self) -> bool:
        return self.role == ANONYMOUS


class NotAuthenticated(OgcsdlError):
    """401: no credential where one is needed, or one that is not valid."""

    code = "NotAuthenticated"
    status = 401

    def __init__(self, message: str, invalid: bool = False) -> None:
        super().__init__(message)
        challenge = 'Bearer realm="ogcsdl"'
        if invalid:
            challenge += ', error="invalid_token"'
        self.headers = [("WWW-Authenticate", challenge)]


class AccessDenied(OgcsdlError):
    """403: a valid credential without the role this needs."""

    code = "AccessDenied"
    status = 403

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = [("WWW-Authenticate", 'Bearer realm="ogcsdl", error="insufficient_scope"')]


class TooManyRequests(OgcsdlError):
    """429 with Retry-After: a quota is used up."""

    code = "TooManyRequests"
    status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.headers = [("Retry-After", str(max(1, int(retry_after_s))))]


def identity_of(environ: dict[str, Any]) -> Identity | None:
    """None when no access control ran (an app used on its own, e.g. in-process tests)."""
    identity = environ.get(IDENTITY_KEY)
    return identity if isinstance(identity, Identity) else None


def job_owner(environ: dict[str, Any]) -> str | None:
    """The owner recorded on a job this request creates."""
    identity = identity_of(environ)
    return identity.user if identity else None


def owner_filter(environ: dict[str, Any]) -> str | None:
    """Whose jobs a listing shows: None (all) for an admin, else the user's own."""
    identity = identity_of(environ)
    return None if identity is None or identity.is_admin else identity.user


def may_access_job(environ: dict[str, Any], owner: str | None) -> bool:
    """Whether this request may see, read or dismiss a job owned by ``owner``."""
    identity = identity_of(environ)
    return identity is None or identity.is_admin or identity.user == owner
