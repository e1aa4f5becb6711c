"""Gateway configuration: ``config/gateway.yaml`` (or ``--config`` / ``GATEWAY_CONFIG``) plus environment.

Secrets only ever come from environment references (``${DASHSCOPE_API_KEY}``)
and are held as :class:`~providers.secret.Secret`. A file that cannot be used
stops the start with the file, the line and the reason.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import msgspec
import yaml

from gateway.storage.naming import valid_prefix
from providers import registry
from providers.kind import Limits, PacingSettings, ProviderSettings
from providers.secret import Secret

__all__ = [
    "DEFAULT_ALIASES",
    "BreakerSettings",
    "CacheSettings",
    "ChatSettings",
    "ClientKeySettings",
    "ConfigError",
    "ConsoleSettings",
    "DownloadSettings",
    "GatewayConfig",
    "JobSettings",
    "Limits",
    "LocalStorageSettings",
    "MaskSettings",
    "NoStorage",
    "PacingSettings",
    "PriceSetting",
    "ProviderSettings",
    "RouteSettings",
    "RouteTarget",
    "S3StorageSettings",
    "StorageSettings",
    "TracingSettings",
    "UpstreamSettings",
    "UsageSettings",
    "VariationSettings",
    "WebhookSettings",
    "load_config",
    "parse_config",
]

DEFAULT_CONFIG_PATH = Path("config/gateway.yaml")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
#: OpenAI's image model names (openai-python ``types/image_model.py``) -> the model here that
#: answers them best. GPT-image models generate and edit (up to 16 inputs) at any size:
#: wan2.7-image-pro does both (9 inputs, any W*H, 1K/2K/4K), the mini one gets the faster
#: wan2.7-image. DALL-E 3 (text only, 1024-1792 px) gets wan2.7-image; DALL-E 2 (small,
#: cheap) the turbo text-to-image model.
DEFAULT_ALIASES = {
    "dall-e-3": "wan2.7-image",
    "dall-e-2": "wanx2.1-t2i-turbo",
    "gpt-image-1": "wan2.7-image-pro",
    "gpt-image-1-mini": "wan2.7-image",
    "gpt-image-1.5": "wan2.7-image-pro",
    "gpt-image-2": "wan2.7-image-pro",
    "gpt-image-2-2026-04-21": "wan2.7-image-pro",
    "gpt-image-2.5-sunburst": "wan2.7-image-pro",
    "gpt-image-2.5-sunburst-2026-09-08": "wan2.7-image-pro",
    "gpt-image-2.5-flare": "wan2.7-image-pro",
    "gpt-image-2.5-flare-2026-09-08": "wan2.7-image-pro",
    "gpt-image-2.6-sunburst": "wan2.7-image-pro",
    "gpt-image-2.6-flare": "wan2.7-image-pro",
    "chatgpt-image-latest": "wan2.7-image-pro",
}

Struct = msgspec.Struct


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class UpstreamSettings(Struct, frozen=True, forbid_unknown_fields=True):
    #: Whole-request budget, polling and fallbacks included (504 upstream_timeout past it).
    deadline_seconds: float = 300.0
    #: The TCP (and TLS) connect alone: a request that waits for a free pooled
    #: connection waits as long as its deadline allows, not this long.
    connect_timeout: float = 5.0
    #: Sync image calls can take minutes (DashScope cuts them at about 300 s).
    read_timeout: float = 300.0
    max_attempts: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    poll_initial: float = 0.5
    poll_max: float = 5.0
    #: Consecutive failed polls (5xx, network) tolerated before giving up on a task.
    poll_error_limit: int = 5
    #: Upstream connections open at once, all hosts together (API calls, result
    #: downloads, chat streams); past it, requests wait in line for one.
    max_connections: int = 4096
    #: Connects under way at once: thousands of requests starting together open their
    #: connections a few hundred at a time instead of storming the upstream's listen
    #: backlog (and TLS handshakes) in one instant.
    max_connects: int = 256
    #: How long an idle upstream connection is kept for reuse.
    keepalive_seconds: float = 15.0
    #: The largest upstream answer read (JSON with result URLs is a few KB); a call
    #: whose answer may inline images raises its own limit. Larger answers are refused
    #: unread, never buffered.
    max_answer_bytes: int = 8 * 1024 * 1024


class DownloadSettings(Struct, frozen=True, forbid_unknown_fields=True):
    timeout_seconds: float = 60.0
    max_bytes: int = 64 * 1024 * 1024
    concurrency: int = 8


class RouteTarget(Struct, frozen=True, forbid_unknown_fields=True):
    provider: str
    #: Model id at that provider; defaults to the route's name.
    model: str | None = None
    #: Share of first attempts among the route's weighted targets. Without any
    #: weights the targets are tried in the order listed; with weights, a target
    #: without one (or with 0) is a fallback only.
    weight: float | None = None


class RouteSettings(Struct, frozen=True, forbid_unknown_fields=True):
    targets: tuple[RouteTarget, ...]


class ClientKeySettings(Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    key: Secret
    #: Model names or fnmatch patterns this key may use.
    models: tuple[str, ...] = ("*",)
    rpm: int | None = None
    max_n: int | None = None
    #: Hosts this key's jobs may name in ``webhook_url`` (exact, or ``*.example.com``), on top of
    #: ``webhooks.allowed_hosts``.
    webhook_hosts: tuple[str, ...] = ()


class CacheSettings(Struct, frozen=True, forbid_unknown_fields=True):
    enabled: bool = True
    ttl_seconds: float = 3600.0
    max_bytes: int = 256 * 1024 * 1024
    #: When every caller of a shared upstream call has left, it goes on this long so a
    #: client retrying after a timeout joins it rather than paying for a second one.
    flight_grace_seconds: float = 10.0


class JobSettings(Struct, frozen=True, forbid_unknown_fields=True):
    #: How long a job and its result are kept (DashScope keeps tasks 24 h).
    ttl_seconds: float = 86400.0
    #: How often the replica running a job says it is alive.
    heartbeat_seconds: float = 2.0
    #: A job whose replica has been silent this long is resumed by whichever replica is asked about it.
    stale_after_seconds: float = 10.0


#: Standard Webhooks' schedule, as gaps after each failed attempt (the last one repeats).
DEFAULT_RETRY_SCHEDULE = (5.0, 30.0, 120.0, 600.0, 3600.0, 10800.0, 21600.0, 43200.0)
_WHSEC = re.compile(r"^whsec_[A-Za-z0-9+/]+={0,2}$")


class WebhookSettings(Struct, frozen=True, forbid_unknown_fields=True):
    """Callbacks for async jobs (Standard Webhooks); off until ``secret`` is set."""

    #: ``whsec_`` + base64 of the signing key (``${WEBHOOK_SECRET}``).
    secret: Secret | None = None
    #: Hosts any key's jobs may call back (exact, or ``*.example.com``); a loopback, private
    #: or link-local address is called only when it (or its host name) is listed exactly.
    allowed_hosts: tuple[str, ...] = ()
    #: One delivery attempt: connect, send, and read the (bounded) answer.
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 10.0
    #: Attempts in all, first included; none is made more than 24 h after the job finished.
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=30)] = 8
    #: Seconds to wait after the 1st, 2nd, ... failed attempt.
    retry_schedule: Annotated[tuple[Annotated[float, msgspec.Meta(ge=0)], ...], msgspec.Meta(min_length=1)] = (
        DEFAULT_RETRY_SCHEDULE
    )
    #: Deliveries sent at once by one replica.
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=256)] = 16
    #: Deliveries waiting (all replicas); past it a new one is dropped and counted.
    max_pending: Annotated[int, msgspec.Meta(ge=1)] = 100_000

    def __post_init__(self) -> None:
        # The message never quotes the value: it is a secret, however malformed.
        if self.secret is not None and not _valid_whsec(self.secret.reveal()):
            raise ValueError("webhooks.secret must be 'whsec_' followed by base64 (at least 16 bytes)")


def _valid_whsec(value: str) -> bool:
    if not _WHSEC.match(value):
        return False
    body = value.removeprefix("whsec_")
    try:
        return len(base64.b64decode(body + "=" * (-len(body) % 4), validate=True)) >= 16
    except ValueError:
        return False


class ChatSettings(Struct, frozen=True, forbid_unknown_fields=True):
    #: Also put a markdown image link per image in chat answers' content, so chat UIs
    #: show them (http(s) URLs only; a request can turn it off with image_config.markdown).
    markdown_images: bool = True


class VariationSettings(Struct, frozen=True, forbid_unknown_fields=True):
    #: The image-to-image model that makes /v1/images/variations (any model that takes an input image).
    model: str = "wan2.7-image"
    #: What it is asked to do with the input image.
    prompt: str = (
        "Create a variation of this image: keep its subject, composition, colours and style, "
        "and change the details naturally, as another take of the same picture."
    )


class MaskSettings(Struct, frozen=True, forbid_unknown_fields=True):
    #: The model an edit with a mask goes to when it names no model or an OpenAI one
    #: (gpt-image-*, dall-e-2): one whose catalog entry takes masks.
    model: str = "wanx2.1-imageedit"


class BreakerSettings(Struct, frozen=True, forbid_unknown_fields=True):
    failure_threshold: int = 5
    cooldown_seconds: float = 30.0


#: DashScope's result URLs live 24 h; a stored copy's URL lives this long (and a presigned S3 URL can live no longer).
_WEEK = 7 * 86400.0


class NoStorage(Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind", tag="none"):
    """Answers carry the provider's own result URLs (DashScope's expire after 24 h)."""


class LocalStorageSettings(Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind", tag="local"):
    """Files on this machine (a volume in Kubernetes), served at ``/v1/images/files/{name}`` by signed URL."""

    #: Default: ``${GATEWAY_DATA_DIR:-./data}/images``.
    directory: str = ""
    #: Signs the file URLs; every replica serving them needs the same one.
    url_secret: Secret | None = None
    #: The origin clients reach the gateway at (behind an ingress or CDN); default: the request's own.
    public_base_url: str | None = None
    prefix: str = ""
    url_ttl_seconds: Annotated[float, msgspec.Meta(gt=0)] = _WEEK
    retention_days: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    cleanup_interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    #: Images copied at once, across all requests (each holds one chunk in memory).
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 64

    def __post_init__(self) -> None:
        if not self.url_secret or len(self.url_secret.reveal()) < 16:
            raise ValueError("storage.url_secret must be set, at least 16 characters (e.g. ${STORAGE_URL_SECRET})")
        _check_storage_common(self.prefix, self.public_base_url)


class S3StorageSettings(Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind", tag="s3"):
    """Any S3-compatible store: AWS S3, Cloudflare R2, MinIO, Alibaba OSS through its S3 API."""

    bucket: str
    #: Default: AWS S3 for the region.
    endpoint: str | None = None
    region: str = "us-east-1"
    prefix: str = ""
    #: Unset: the AWS default chain (AWS_* environment, an IRSA or instance role).
    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None
    #: "presigned": URLs signed for url_ttl_seconds; "public": public_base_url + name (a public bucket or CDN).
    url: Literal["presigned", "public"] = "presigned"
    public_base_url: str | None = None
    url_ttl_seconds: Annotated[float, msgspec.Meta(gt=0, le=_WEEK)] = _WEEK
    #: "path" for MinIO and most self-hosted servers; "virtual" for OSS.
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    #: Images copied at once, across all requests (each holds at most 1 MiB in memory; the rest spools to disk).
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 64

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ValueError("storage.bucket must be set")
        if self.url == "public" and not self.public_base_url:
            raise ValueError("storage.url: public needs storage.public_base_url")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("storage: set both access_key_id and secret_access_key, or neither")
        _check_storage_common(self.prefix, self.public_base_url)


def _check_storage_common(prefix: str, public_base_url: str | None) -> None:
    if not valid_prefix(prefix):
        raise ValueError(f"storage.prefix {prefix!r} must be folder names ending in '/' (letters, digits, '-', '_')")
    if public_base_url is not None and not re.fullmatch(r"https?://[^\s?#]+", public_base_url):
        raise ValueError("storage.public_base_url must be an http(s) URL without query or fragment")


StorageSettings = NoStorage | LocalStorageSettings | S3StorageSettings


class PriceSetting(Struct, frozen=True, forbid_unknown_fields=True):
    """A configured price per image, in a named currency."""

    amount: Annotated[float, msgspec.Meta(ge=0)]
    currency: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]


#: ``sqlite:///...`` or ``postgresql://...`` (psycopg 3); the schemes the usage ledger can open.
USAGE_SCHEMES = ("sqlite", "postgresql", "postgres")


def default_usage_url(env: Mapping[str, str]) -> str:
    """SQLite in the data directory: ``make run`` records usage with no setup."""
    return f"sqlite:///{env.get('GATEWAY_DATA_DIR') or './data'}/usage.db"


class UsageSettings(Struct, frozen=True, forbid_unknown_fields=True):
    """The usage ledger: one record per image request, written off the request path."""

    enabled: bool = True
    #: May hold a password, so it is a Secret: never printed, logged or put in an error.
    database_url: Secret = msgspec.field(default_factory=lambda: Secret(default_usage_url(os.environ)))
    #: Records waiting to be written; past this they are dropped (and counted), never waited for.
    buffer: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 10_000
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 500
    #: Longest a record waits in the buffer before its batch is written.
    flush_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    #: Tries per batch before it is dropped (counted as write_failed).
    write_attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3

    def __post_init__(self) -> None:
        scheme = self.database_url.reveal().partition(":")[0].partition("+")[0].lower()
        if scheme not in USAGE_SCHEMES:
            # The URL itself is not quoted: it may carry a password.
            raise ValueError("usage.database_url must be a sqlite:/// or postgresql:// URL")


class TracingSettings(Struct, frozen=True, forbid_unknown_fields=True):
    """OpenTelemetry traces over OTLP/HTTP; the standard ``OTEL_*`` variables apply too."""

    #: Also on when OTEL_TRACES_EXPORTER=otlp or an OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is
    #: set; OTEL_SDK_DISABLED=true turns it off whatever this says.
    enabled: bool = False
    #: The collector's traces URL; unset: the OTEL_EXPORTER_OTLP_* variables, else
    #: http://localhost:4318/v1/traces.
    endpoint: str | None = None
    #: Unset: OTEL_SERVICE_NAME, else "image-gateway".
    service_name: str | None = None
    #: Share of new traces kept; a caller's sampled traceparent is always followed.
    sample_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0


class ConsoleSettings(Struct, frozen=True, forbid_unknown_fields=True):
    """The web console at /console (playground, jobs, and status for the admin)."""

    enabled: bool = True
    #: How long a console login lasts (kept in shared state, so every replica knows it).
    session_ttl_seconds: Annotated[float, msgspec.Meta(ge=60, le=7 * 86400)] = 12 * 3600.0
    #: Login attempts per client address per minute: slows key guessing.
    login_attempts_per_minute: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10


class GatewayConfig(Struct, frozen=True, forbid_unknown_fields=True):
    #: Provider entries, each decoded as its ``kind``'s settings (see providers/registry.py).
    providers: dict[str, ProviderSettings]
    #: Modules defining provider kinds kept outside this tree (each has a ``KIND``), imported first.
    provider_modules: tuple[str, ...] = ()
    default_model: str = "wan2.7-image"
    default_provider: str = "dashscope"
    upstream: UpstreamSettings = msgspec.field(default_factory=UpstreamSettings)
    downloads: DownloadSettings = msgspec.field(default_factory=DownloadSettings)
    #: Catalog entries added or overridden, by model id (DashScope providers).
    models: dict[str, dict[str, Any]] = {}
    aliases: dict[str, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_ALIASES))
    routes: dict[str, RouteSettings] = {}
    #: Unnamed client keys (all models, no limits); GATEWAY_API_KEYS adds to them.
    api_keys: tuple[Secret, ...] = ()
    keys: tuple[ClientKeySettings, ...] = ()
    #: Key for /admin endpoints (or GATEWAY_ADMIN_KEY).
    admin_key: Secret | None = None
    cache: CacheSettings = msgspec.field(default_factory=CacheSettings)
    #: Shared state for several replicas (rate limits, pacing, cache, single-flight,
    #: jobs); REDIS_URL overrides. Unset: each replica keeps its own.
    redis_url: str | None = None
    jobs: JobSettings = msgspec.field(default_factory=JobSettings)
    webhooks: WebhookSettings = msgspec.field(default_factory=WebhookSettings)
    chat: ChatSettings = msgspec.field(default_factory=ChatSettings)
    variations: VariationSettings = msgspec.field(default_factory=VariationSettings)
    masks: MaskSettings = msgspec.field(default_factory=MaskSettings)
    circuit_breaker: BreakerSettings = msgspec.field(default_factory=BreakerSettings)
    tracing: TracingSettings = msgspec.field(default_factory=TracingSettings)
    #: Where returned images are copied before the answer is sent (kind: none, local or s3).
    storage: StorageSettings = msgspec.field(default_factory=NoStorage)
    usage: UsageSettings = msgspec.field(default_factory=UsageSettings)
    console: ConsoleSettings = msgspec.field(default_factory=ConsoleSettings)
    #: Estimated price per generated image, by model id (for the cost metric and the usage
    #: ledger): a number (currency "configured") or ``{amount, currency}``.
    prices: dict[str, float | PriceSetting] = {}
    #: Longest a SIGTERM waits for in-flight requests; default: the upstream deadline.
    drain_seconds: float | None = None
    #: How often provider keys are re-probed for the key-status gauge (0 = never).
    key_check_interval_seconds: float = 300.0
    log_prompts: bool = False
    #: Threads that decode and flatten input images; each may hold about 450 MB for an
    #: 8000x8000 image, so this bounds that memory (and how many are worked on at once).
    image_workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2

    def __post_init__(self) -> None:
        if self.default_provider not in self.providers:
            raise ValueError(f"default_provider {self.default_provider!r} is not one of the providers")
        for name in self.providers:
            if "/" in name:
                raise ValueError(f"provider name {name!r} may not contain '/'")
        for route, settings in self.routes.items():
            if not settings.targets:
                raise ValueError(f"route {route!r} has no targets")
            for target in settings.targets:
                if target.provider not in self.providers:
                    raise ValueError(f"route {route!r} names unknown provider {target.provider!r}")
                if target.weight is not None and target.weight < 0:
                    raise ValueError(f"route {route!r}: weights cannot be negative")

    @property
    def has_client_keys(self) -> bool:
        return bool(self.api_keys or self.keys)

    @property
    def drain_deadline(self) -> float:
        return self.drain_seconds if self.drain_seconds is not None else self.upstream.deadline_seconds


def _interpolate(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    return value


def _dec_hook(type_: type, obj: Any) -> Any:
    if type_ is Secret and isinstance(obj, str):
        return Secret(obj)
    raise NotImplementedError


def _drop_unset_secrets(raw: dict[str, Any]) -> None:
    # An unset ${ENV} reference leaves an empty string: that means "no key".
    for provider in (raw.get("providers") or {}).values():
        if isinstance(provider, dict) and not provider.get("api_key"):
            provider.pop("api_key", None)
    if not raw.get("admin_key"):
        raw.pop("admin_key", None)
    storage = raw.get("storage")
    if isinstance(storage, dict):
        for field in ("url_secret", "access_key_id", "secret_access_key"):
            if not storage.get(field):
                storage.pop(field, None)
    raw["api_keys"] = [k for k in raw.get("api_keys") or [] if k]
    raw["keys"] = [k for k in raw.get("keys") or [] if not isinstance(k, dict) or k.get("key")]
    webhooks = raw.get("webhooks")
    if isinstance(webhooks, dict) and not webhooks.get("secret"):
        webhooks.pop("secret", None)


def _usage_defaults(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    # Resolved here, from the same environment as the rest: an unset ${USAGE_DATABASE_URL}
    # (as the Helm chart writes it) means the SQLite default, like an unset key means none.
    usage = raw.get("usage")
    if usage is None:
        usage = raw["usage"] = {}
    if isinstance(usage, dict) and not usage.get("database_url"):
        usage["database_url"] = default_usage_url(env)


def _line_of(text: str, path: str) -> int | None:
    """The 1-based line of the YAML node at a msgspec error path like ``$.providers.x[0].y``."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = 1
    for key, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path.removeprefix("$")):
        if isinstance(node, yaml.MappingNode) and key:
            match = next(((k, v) for k, v in node.value if k.value == key), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line + 1
        else:
            break
    return line


#: Mapping sections whose entries msgspec reports only as ``[...]``: checked one by one to name the key.
_KEYED_SECTIONS: dict[str, Any] = {
    "routes": RouteSettings,
    "aliases": str,
    "prices": float | PriceSetting,
    "models": dict[str, Any],
}


def _name_the_key(raw: dict[str, Any], path: str) -> str:
    match = re.match(r"^\$\.(\w+)\[\.\.\.\](.*)$", path)
    if (
        not match
        or match.group(1) not in (*_KEYED_SECTIONS, "providers")
        or not isinstance(raw.get(match.group(1)), dict)
    ):
        return path
    section, rest = match.groups()
    entry = registry.settings_type() if section == "providers" else _KEYED_SECTIONS[section]
    for key, value in raw[section].items():
        try:
            msgspec.convert(value, entry, dec_hook=_dec_hook)
        except msgspec.ValidationError:
            return f"$.{section}.{key}{rest}"
    return path


def _where(source: str, text: str, raw: dict[str, Any], error: msgspec.ValidationError) -> str:
    message = str(error)
    path = message.rsplit(" - at `", 1)[1].rstrip("`") if " - at `" in message else "$"
    path = _name_the_key(raw, path)
    reason = message.rsplit(" - at `", 1)[0]
    line = _line_of(text, path)
    return f"{source}:{line}: {reason} (at {path})" if line else f"{source}: {reason} (at {path})"


def parse_config(text: str, env: Mapping[str, str], source: str) -> GatewayConfig:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}:1: the top level must be a mapping")
    raw = _interpolate(raw, env)
    _drop_unset_secrets(raw)
    _usage_defaults(raw, env)
    raw["api_keys"] += [k.strip() for k in env.get("GATEWAY_API_KEYS", "").split(",") if k.strip()]
    if env.get("GATEWAY_ADMIN_KEY"):
        raw["admin_key"] = env["GATEWAY_ADMIN_KEY"]
    if env.get("REDIS_URL"):
        raw["redis_url"] = env["REDIS_URL"]
    if not raw.get("redis_url"):
        raw.pop("redis_url", None)
    storage = raw.get("storage")
    if isinstance(storage, dict) and storage.get("kind") == "local" and not storage.get("directory"):
        storage["directory"] = str(Path(env.get("GATEWAY_DATA_DIR") or "./data") / "images")
    _check_kinds(source, text, raw)
    try:
        return msgspec.convert(raw, _decoded_config(), dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise ConfigError(_where(source, text, raw, exc)) from None


def _check_kinds(source: str, text: str, raw: dict[str, Any]) -> None:
    """Load the config's own provider kinds, and name any entry whose kind is unknown."""
    modules = raw.get("provider_modules") or []
    line = _line_of(text, "$.provider_modules") or 1
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise ConfigError(f"{source}:{line}: provider_modules must be a list of module names")
    try:
        registry.import_kinds(modules)
    except ValueError as exc:
        raise ConfigError(f"{source}:{line}: {exc}") from None
    providers = raw.get("providers")
    for name, entry in (providers if isinstance(providers, dict) else {}).items():
        kind = entry.get("kind") if isinstance(entry, dict) else None
        if isinstance(kind, str) and registry.find(kind) is None:
            line = _line_of(text, f"$.providers.{name}.kind") or 1
            known = ", ".join(registry.kinds())
            raise ConfigError(f"{source}:{line}: provider {name!r}: unknown provider kind {kind!r} (known: {known})")


def _decoded_config() -> type[GatewayConfig]:
    """GatewayConfig with ``providers`` decoded as the tagged union of the kinds registered now."""
    union = registry.settings_type()
    cached = _DECODERS.get(union)
    if cached is None:
        fields = [("providers", dict[str, union])]  # type: ignore[valid-type]
        made = msgspec.defstruct(
            "GatewayConfig", fields, bases=(GatewayConfig,), frozen=True, forbid_unknown_fields=True
        )
        cached = _DECODERS[union] = cast(type[GatewayConfig], made)
    return cached


_DECODERS: dict[Any, type[GatewayConfig]] = {}


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read the config file: ``path``, else ``GATEWAY_CONFIG``, else ``config/gateway.yaml``."""
    env = os.environ if env is None else env
    explicit = path or env.get("GATEWAY_CONFIG")
    file = Path(explicit) if explicit else DEFAULT_CONFIG_PATH
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
    return parse_config(text, env, str(file))
