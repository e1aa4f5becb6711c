"""Gateway configuration: ``config/gateway.yaml`` (or ``--config`` / ``GATEWAY_CONFIG``) plus environment.

Secrets only ever come from environment references (``${DASHSCOPE_API_KEY}``)
and are held as :class:`~providers.secret.Secret`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from providers.secret import Secret

__all__ = [
    "ConfigError",
    "DownloadSettings",
    "GatewayConfig",
    "ProviderSettings",
    "UpstreamSettings",
    "load_config",
]

DEFAULT_CONFIG_PATH = Path("config/gateway.yaml")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class ProviderSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: str
    base_url: str
    api_key: Secret | None = None
    #: DashScope: which regional model names and hosts apply (cn, intl).
    region: str = "cn"
    #: OpenAI-compatible upstreams: the image models and chat models they serve.
    image_models: tuple[str, ...] = ()
    chat_models: tuple[str, ...] = ()
    #: OpenAI-compatible upstreams: ask for images at /images/generations, or at
    #: /chat/completions with a top-level size.
    image_api: Literal["images", "chat"] = "images"


class UpstreamSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: Whole-request budget, polling included (504 upstream_timeout past it).
    deadline_seconds: float = 300.0
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
    max_connections: int = 4096


class DownloadSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    timeout_seconds: float = 60.0
    max_bytes: int = 64 * 1024 * 1024
    concurrency: int = 8


class GatewayConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    providers: dict[str, ProviderSettings]
    default_model: str = "wan2.7-image"
    default_provider: str = "dashscope"
    upstream: UpstreamSettings = msgspec.field(default_factory=UpstreamSettings)
    downloads: DownloadSettings = msgspec.field(default_factory=DownloadSettings)
    #: Client keys; GATEWAY_API_KEYS adds to them.
    api_keys: tuple[Secret, ...] = ()
    log_prompts: bool = False

    def __post_init__(self) -> None:
        if self.default_provider not in self.providers:
            raise ValueError(f"default_provider {self.default_provider!r} is not a configured provider")
        for name in self.providers:
            if "/" in name:
                raise ValueError(f"provider name {name!r} may not contain '/'")


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


def _drop_empty_keys(raw: dict[str, Any]) -> None:
    # An unset ${ENV} reference leaves an empty key: treat it as "no key".
    for provider in (raw.get("providers") or {}).values():
        if isinstance(provider, dict) and not provider.get("api_key"):
            provider.pop("api_key", None)
    raw["api_keys"] = [k for k in raw.get("api_keys") or [] if k]


def parse_config(text: str, env: Mapping[str, str], source: str) -> GatewayConfig:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    raw = _interpolate(raw, env)
    _drop_empty_keys(raw)
    raw["api_keys"] += [k.strip() for k in env.get("GATEWAY_API_KEYS", "").split(",") if k.strip()]
    try:
        return msgspec.convert(raw, GatewayConfig, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None


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
