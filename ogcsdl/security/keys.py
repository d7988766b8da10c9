"""API keys: ``ogk_<id>_<secret>``, kept only as SHA-256 (in the suite database, or in
the config file under ``security.auth.api_keys``), and the ``ogcsdl keys`` command.

A key is 32 random bytes, so a plain SHA-256 is as strong as a slow hash here and costs
microseconds per request; comparison is constant-time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import click

from ogcsdl.cli_context import CliContext, pass_context
from ogcsdl.config import Settings
from ogcsdl.db import connect
from ogcsdl.security.identity import ADMIN, USER, Identity

TABLE = "ogcsdl_api_keys"
PREFIX = "ogk_"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    key_id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    role TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created TEXT NOT NULL,
    revoked TEXT
)
"""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_of(key: str) -> str | None:
    if not key.startswith(PREFIX):
        return None
    key_id, _, secret = key[len(PREFIX) :].partition("_")
    return key_id if key_id and secret else None


@dataclass
class KeyInfo:
    key_id: str
    user: str
    role: str
    created: str
    revoked: str | None


class KeyStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database_url = settings.database_url
        self._active_cache: tuple[float, bool] | None = None
        with connect(self.database_url) as conn:
            conn.execute(_SCHEMA)

    def create(self, user: str, role: str = USER) -> tuple[str, str]:
        """A new key for ``user``: (key id, the key itself - shown once, never stored)."""
        key_id = secrets.token_hex(6)
        key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        with connect(self.database_url) as conn:
            conn.execute(
                f"INSERT INTO {TABLE} (key_id, user_name, role, sha256, created, revoked) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, user, role, digest(key), datetime.now(UTC).isoformat(), None),
            )
        return key_id, key

    def revoke(self, key_id: str) -> bool:
        with connect(self.database_url) as conn:
            cursor = conn.execute(
                f"UPDATE {TABLE} SET revoked = ? WHERE key_id = ? AND revoked IS NULL",
                (datetime.now(UTC).isoformat(), key_id),
            )
            return bool(cursor.rowcount)

    def list(self) -> list[KeyInfo]:
        with connect(self.database_url) as conn:
            rows = conn.query(
                f"SELECT key_id, user_name, role, created, revoked FROM {TABLE} ORDER BY created"
            )
        return [KeyInfo(*row) for row in rows]

    def identify(self, key: str) -> Identity | None:
        """The identity a key stands for, or None if it is unknown or revoked."""
        key_id = key_id_of(key)
        if key_id is None:
            return None
        hashed = digest(key)
        for entry in self.settings.security.auth.api_keys:
            if entry.id == key_id and hmac.compare_digest(entry.sha256, hashed):
                return Identity(f"key:{entry.user}", entry.role)
        with connect(self.database_url) as conn:
            rows = conn.query(
                f"SELECT user_name, role, sha256 FROM {TABLE} WHERE key_id = ? AND revoked IS NULL",
                (key_id,),
            )
        if rows and hmac.compare_digest(str(rows[0][2]), hashed):
            return Identity(f"key:{rows[0][0]}", str(rows[0][1]))
        return None

    def any_configured(self, cache_s: float = 5.0) -> bool:
        """Whether any key exists (config or database); cached a few seconds."""
        if self.settings.security.auth.api_keys:
            return True
        now = time.monotonic()
        if self._active_cache is None or now - self._active_cache[0] > cache_s:
            with connect(self.database_url) as conn:
                count = conn.query(f"SELECT COUNT(*) FROM {TABLE} WHERE revoked IS NULL")[0][0]
            self._active_cache = (now, int(count) > 0)
        return self._active_cache[1]


@click.group("keys")
def keys_command() -> None:
    """Create, list and revoke API keys (sent as ``Authorization: Bearer <key>``)."""


@keys_command.command("create")
@click.option("--user", required=True, help="Who the key belongs to (owns its jobs).")
@click.option("--role", type=click.Choice([USER, ADMIN]), default=USER, show_default=True)
@click.option(
    "--print-config",
    is_flag=True,
    help="Do not store it: print a security.auth.api_keys entry (hash only) for the config.",
)
@pass_context
def create_key(context: CliContext, user: str, role: str, print_config: bool) -> None:
    """Create a key and print it once (only its SHA-256 is kept)."""
    if print_config:
        key_id = secrets.token_hex(6)
        key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        click.echo(f"key: {key}")
        click.echo("add to the config under security.auth.api_keys:")
        click.echo(f"  - {{id: {key_id}, user: {user}, role: {role}, sha256: {digest(key)}}}")
        return
    key_id, key = KeyStore(context.settings).create(user, role)
    click.echo(f"key id: {key_id} (user {user}, role {role})")
    click.echo(f"key:    {key}")
    click.echo("send it as the header 'Authorization: Bearer <key>'; it is not shown again")


@keys_command.command("list")
@pass_context
def list_keys(context: CliContext) -> None:
    """List keys (ids, users, roles; never the keys)."""
    for info in KeyStore(context.settings).list():
        state = f"revoked {info.revoked}" if info.revoked else "active"
        click.echo(f"{info.key_id}  {info.user}  {info.role}  created {info.created}  {state}")


@keys_command.command("revoke")
@click.argument("key_id")
@pass_context
def revoke_key(context: CliContext, key_id: str) -> None:
    """Revoke a key by its id (takes effect at once)."""
    if not KeyStore(context.settings).revoke(key_id):
        raise click.ClickException(f"no active key with id {key_id!r}")
    click.echo(f"revoked {key_id}")
