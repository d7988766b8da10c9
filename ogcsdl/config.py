"""The suite's one configuration: a YAML file plus ``OGCSDL_*`` environment overrides.

Every per-tool configuration (pycsw, pywps, pygeoapi, MapProxy) is generated from a
:class:`Settings` object; nothing else is read at run time. Relative paths in the file are
resolved against the directory that holds the file, so the suite behaves the same from
any working directory.

Environment overrides use ``OGCSDL_`` plus the key path joined by ``__``, e.g.
``OGCSDL_SERVER__PORT=5001`` or ``OGCSDL_DATABASE__URL=postgresql://...``; they win over
the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ogcsdl.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "ogcsdl.yml"
CONFIG_ENV = "OGCSDL_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=64)
    timeout_s: int = Field(120, ge=5)
    # How long ``serve`` retries a port still held (the children of a crashed previous
    # run shutting down) before refusing to start.
    port_wait_s: float = Field(10.0, ge=0, le=300)
    # Reverse proxies (IPs or CIDR networks) whose X-Forwarded-For names the client
    # (``gateway/forwarded.py``); from any other peer the header is ignored, as a client
    # could otherwise choose its own quota identity. Empty: no proxy is trusted.
    trusted_proxies: list[IPvAnyNetwork] = []


class DatabaseSettings(_Section):
    """Where the catalogue, product store and job store live.

    ``None`` means the embedded default: SQLite files under ``data_dir``.
    """

    url: str | None = None

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = urlsplit(value).scheme
        if scheme not in ("sqlite", "postgresql"):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value


class CatalogueSettings(_Section):
    """The pycsw process, which runs in its own Python environment."""

    port: int = Field(5010, ge=1, le=65535)
    python: Path = PROJECT_ROOT / ".venv-catalogue" / "bin" / "python"
    workers: int = Field(2, ge=1, le=32)
    title: str = "ogcsdl Earth-observation catalogue"
    abstract: str = (
        "Sentinel and other Earth-observation products, searchable by CSW, OpenSearch and OAI-PMH."
    )
    keywords: list[str] = ["Earth observation", "Sentinel-2", "Sentinel-1", "catalogue"]
    contact_name: str = "ogcsdl operator"
    contact_email: str = "operator@example.org"
    organisation: str = "Space Data Lab"
    max_records: int = Field(50, ge=1, le=10000)
    # CSW 2.0.2 DistributedSearch: GetRecords is forwarded to these CSW endpoints
    # (hopCount respected); a peer slower than federation_timeout_s is left out.
    federated_catalogues: list[str] = []
    federation_timeout_s: float = Field(10.0, gt=0, le=120)


class ClusterSettings(_Section):
    """The Dask cluster that runs processing jobs.

    ``scheduler_address`` ``None`` starts an embedded LocalCluster on ``port``; otherwise
    the suite connects to the external scheduler (``tcp://host:8786``).
    """

    scheduler_address: str | None = None
    port: int = Field(5020, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=256)
    threads_per_worker: int = Field(1, ge=1, le=64)
    memory_limit: str = "4GiB"
    # The job watchdog (``ogcsdl.jobs.cluster.JobWatchdog``): how often it reconciles
    # unfinished jobs with the scheduler, and how long a job may be unknown there.
    watchdog_interval_s: float = Field(5.0, gt=0)
    lost_job_grace_s: float = Field(30.0, gt=0)


class ApiKeySettings(_Section):
    """An API key kept in the config file: only its SHA-256, never the key itself
    (``ogcsdl keys create --print-config`` prints such an entry)."""

    id: str
    user: str
    role: Literal["user", "admin"] = "user"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class OidcSettings(_Section):
    """Bearer JWTs from an OpenID Connect issuer, checked against its JWKS."""

    issuer: str | None = None  # the ``iss`` every token must carry; None: no OIDC
    audience: str | None = None  # the ``aud`` required, if set
    jwks_url: str | None = None  # fetched through the checked fetcher (operator-trusted)
    jwks_file: Path | None = None  # or a local copy of the JWKS
    roles_claim: str = "roles"  # dotted path, e.g. realm_access.roles (Keycloak)
    admin_role: str = "admin"
    algorithms: list[str] = ["RS256", "ES256"]


class QuotaSettings(_Section):
    """Per user (anonymous users: per client address)."""

    concurrent_jobs: int = Field(4, ge=1)
    jobs_per_hour: int = Field(200, ge=1)
    requests_per_minute: int = Field(6000, ge=1)  # 429 + Retry-After beyond
    max_image_pixels: int = Field(8192 * 8192, ge=1)  # GetMap WIDTH x HEIGHT, WCS SCALESIZE
    max_input_bytes: int = Field(10 * 1024 * 1024, ge=1024)  # body of an execute request


class AuthSettings(_Section):
    """Who may do what (``ogcsdl.security``). Discovery and viewing are open unless
    ``open_discovery`` is false; processing, dismissal and catalogue transactions need
    a credential. ``anonymous_processing: auto`` opens processing to anonymous users
    only while no credential is configured at all AND the server listens on loopback
    only (a local demo); ``never`` always requires one."""

    open_discovery: bool = True
    anonymous_processing: Literal["auto", "never", "always"] = "auto"
    api_keys: list[ApiKeySettings] = []
    oidc: OidcSettings = OidcSettings()
    quotas: QuotaSettings = QuotaSettings()


class SecuritySettings(_Section):
    allow_private_urls: bool = False
    max_request_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    auth: AuthSettings = AuthSettings()


class CorsSettings(_Section):
    """Cross-origin access for browser clients (STAC Browser, OpenLayers, Leaflet, ...).

    Every public service answers with ``Access-Control-Allow-Origin`` and answers
    preflight ``OPTIONS`` requests (the POST endpoints: STAC search, WPS, OGC API
    execution, CSW). The default ``["*"]`` lets any web page read and call the suite, as
    public OGC services usually do: no browser credentials (cookies) are involved, and
    what needs a credential (``Authorization: Bearer``) still needs it. List origins
    (``https://maps.example.org``) to admit only those; ``[]`` turns CORS off.
    """

    allow_origins: list[str] = ["*"]
    allow_headers: list[str] = ["Authorization", "Content-Type", "Accept", "Prefer", "Range"]
    expose_headers: list[str] = [
        "Location",
        "Preference-Applied",
        "Content-Range",
        "Accept-Ranges",
        "Content-Length",
        "ETag",
        "Link",
        "Retry-After",
    ]
    max_age_s: int = Field(3600, ge=0)


class ProcessingSettings(_Section):
    """The processing services (WPS 1.0.0, OGC API - Processes) and their job runner."""

    extra_processors: list[str] = []  # "module:factory" dotted paths added to the registry
    max_concurrent_jobs: int = Field(4, ge=1, le=1024)  # distributed.Semaphore leases
    sync_timeout_s: int = Field(
        100, ge=1
    )  # how long a synchronous Execute may wait (< server.timeout_s)
    inline_output_max_bytes: int = Field(64 * 1024, ge=0)  # complex outputs by value up to this
    fetch_timeout_s: int = Field(60, ge=1)
    fetch_max_bytes: int = Field(2 * 1024**3, ge=1024)


class IngestSettings(_Section):
    compression: Literal["deflate", "zstd", "lzw"] = "deflate"
    blocksize: int = Field(512, ge=64, le=4096)
    overview_resampling: Literal["average", "nearest", "bilinear", "cubic", "mode"] = "average"


class RenderSettings(_Section):
    """The map renderer MapProxy draws from (its own loopback process)."""

    port: int = Field(5030, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=64)


class TilesSettings(_Section):
    """MapProxy: grids, cache and seeding defaults."""

    seed_levels: int = Field(8, ge=0, le=22)
    meta_size: int = Field(2, ge=1, le=8)  # render 2x2 tiles per renderer call


class WcsSettings(_Section):
    """WCS 2.0.1 limits: refuse responses larger than these instead of streaming GBs."""

    max_pixels: int = Field(8192 * 8192, ge=1)
    max_bytes: int = Field(512 * 1024 * 1024, ge=1024)


class HarvestSourceSettings(_Section):
    """A remote catalogue the suite harvests on a schedule while it serves."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    url: str
    protocol: Literal["csw", "opensearch", "stac", "iso"]  # iso: one ISO 19139 document
    interval_s: int = Field(3600, ge=1)
    # How often a run lists the whole source to find records deleted there (an
    # incremental CSW/STAC/OpenSearch query by modification date cannot show them).
    full_every_s: int = Field(86400, ge=1)
    collection: str | None = None  # only this remote collection (parent identifier)
    bbox: tuple[float, float, float, float] | None = None  # WGS84 minx, miny, maxx, maxy


class HarvestSettings(_Section):
    """Harvesting remote catalogues (``ogcsdl harvest``, scheduled ``sources``).

    Remote fetches go through the suite's URL check, which refuses private and
    loopback addresses; ``allowed_hosts`` names harvest hosts allowed anyway (a peer
    on the same private network, or a second instance on loopback in tests)."""

    sources: list[HarvestSourceSettings] = []
    allowed_hosts: list[str] = []
    # Records asked per remote page (CSW maxRecords, OpenSearch count, STAC limit); a
    # remote may answer fewer (pycsw caps at its own maxrecords): paging follows it.
    page_size: int = Field(500, ge=1, le=1000)
    timeout_s: int = Field(30, ge=1)
    max_page_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    retry_base_s: int = Field(60, ge=1)  # first retry after a failure; doubles each time
    retry_max_s: int = Field(6 * 3600, ge=1)
    # A complete listing that would delete more than this share of a source's records
    # is refused and reported (a source in trouble answering few or no records looks
    # like a source that deleted them); ``ogcsdl harvest --full --force-deletions``.
    max_delete_percent: float = Field(20.0, ge=0, le=100)
    # CSW-T Harvest (``request=Harvest``) at /csw, for callers with the admin role.
    csw_harvest: bool = True


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OGCSDL_", env_nested_delimiter="__", extra="forbid"
    )

    # The URL clients reach the gateway at; empty = http://<server.host>:<server.port>.
    public_url: str = ""
    data_dir: Path = PROJECT_ROOT / "var"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    catalogue: CatalogueSettings = CatalogueSettings()
    cluster: ClusterSettings = ClusterSettings()
    security: SecuritySettings = SecuritySettings()
    cors: CorsSettings = CorsSettings()
    ingest: IngestSettings = IngestSettings()
    render: RenderSettings = RenderSettings()
    tiles: TilesSettings = TilesSettings()
    wcs: WcsSettings = WcsSettings()
    processing: ProcessingSettings = ProcessingSettings()
    harvest: HarvestSettings = HarvestSettings()

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL, e.g. http://127.0.0.1:5000")
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (passed as init kwargs).
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _derive_public_url(self) -> Settings:
        if not self.public_url:
            self.public_url = f"http://{self.server.host}:{self.server.port}"
        return self

    # Derived locations -------------------------------------------------------------
    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'ogcsdl.db'}"

    @property
    def cog_dir(self) -> Path:
        return self.data_dir / "cogs"

    @property
    def generated_dir(self) -> Path:
        """Where the per-tool configurations generated from this file are written."""
        return self.data_dir / "generated"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def catalogue_internal_url(self) -> str:
        return f"http://127.0.0.1:{self.catalogue.port}/"

    @property
    def scheduler_address(self) -> str:
        return self.cluster.scheduler_address or f"tcp://127.0.0.1:{self.cluster.port}"

    def url(self, path: str) -> str:
        """The public URL of a path of this suite (what capabilities documents advertise)."""
        return f"{self.public_url}/{path.lstrip('/')}"

    def ensure_dirs(self) -> None:
        for directory in (self.data_dir, self.cog_dir, self.generated_dir, self.cache_dir):
            directory.mkdir(parents=True, exist_ok=True)


_PATH_KEYS = (("data_dir",), ("catalogue", "python"))


def _resolve_relative_paths(data: dict[str, Any], base: Path) -> None:
    for key_path in _PATH_KEYS:
        node: Any = data
        for key in key_path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        leaf = key_path[-1]
        if isinstance(node, dict) and isinstance(node.get(leaf), str):
            candidate = Path(os.path.expanduser(node[leaf]))
            if not candidate.is_absolute():
                node[leaf] = os.path.normpath(base / candidate)  # keep venv symlinks


def config_path(path: str | Path | None = None) -> Path:
    """The config file in force: the argument, else ``$OGCSDL_CONFIG``, else the default."""
    if path is not None:
        return Path(path).resolve()
    env = os.environ.get(CONFIG_ENV)
    return Path(env).resolve() if env else DEFAULT_CONFIG


def _format_validation_error(source: Path, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        value = item.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        lines.append(f"{source}: {key}: {item['msg']}{shown}")
    return "\n".join(lines)


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read, merge and validate the configuration; raise :class:`ConfigError` with one
    line per bad key."""
    source = config_path(path)
    data: dict[str, Any] = {}
    if source.exists():
        try:
            loaded = yaml.safe_load(source.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{source}: the top level must be a mapping of keys")
        data = loaded or {}
    elif path is not None:
        raise ConfigError(f"{source}: no such configuration file")
    _resolve_relative_paths(data, source.parent)
    data.update(overrides)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(source, exc)) from None
    return settings
