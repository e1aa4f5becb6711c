"""Configuration: env references, secrets, errors with the line, routes and aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import build_router
from gateway.http.auth import KeyRing
from gateway.settings import DEFAULT_ALIASES, ConfigError, load_config, parse_config
from providers.dashscope.catalog import load_catalog

BASE = "providers:\n  dashscope: {kind: dashscope, base_url: 'https://x'}\n"


def test_env_references_and_secrets() -> None:
    config = parse_config(
        BASE.replace("'https://x'}", "'${URL:-https://d}', api_key: '${K}'}"),
        {"K": "sk-secret-value", "GATEWAY_API_KEYS": "a, b", "GATEWAY_ADMIN_KEY": "adm"},
        "f",
    )
    provider = config.providers["dashscope"]
    assert provider.base_url == "https://d"
    assert provider.api_key is not None and provider.api_key.reveal() == "sk-secret-value"
    assert "sk-secret-value" not in repr(config) and "adm" not in repr(config.admin_key)
    assert len(config.api_keys) == 2


def test_unset_key_reference_means_no_key() -> None:
    config = parse_config(BASE.replace("'https://x'}", "'https://x', api_key: '${NOPE}'}"), {}, "f")
    assert config.providers["dashscope"].api_key is None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (BASE + "upstream:\n  deadline_seconds: soon\n", "f.yaml:4: Expected `float`"),
        (BASE + "caches: {}\n", "f.yaml:1: Object contains unknown field `caches`"),
        (BASE + "routes:\n  m:\n    targets:\n      - provider: nowhere\n", "names unknown provider 'nowhere'"),
        ("providers:\n  a: {kind: dashscope, base_url: x}\n  b:\n    kind: 5\n", "f.yaml:4"),
        ("providers: [\n", "f.yaml:2: not valid YAML"),
        (BASE + "default_provider: other\n", "default_provider 'other'"),
    ],
)
def test_errors_name_file_line_and_reason(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, {}, "f.yaml")
    assert where in str(info.value)


def test_default_aliases_and_route_order() -> None:
    config = parse_config(
        BASE + "  intl: {kind: dashscope, region: intl, base_url: 'https://y'}\n"
        "routes:\n  wan2.7-image:\n    targets:\n      - {provider: dashscope}\n      - {provider: intl, weight: 1}\n",
        {},
        "f",
    )
    assert config.aliases == DEFAULT_ALIASES
    router = build_router(config)
    assert router.canonical("dall-e-3") == "wan2.7-image"
    assert [r.target.name for r in router.candidates("dall-e-3")] == ["intl", "dashscope"]  # weight 0: fallback only
    assert [r.target.name for r in router.candidates("dashscope/wan2.7-image")] == ["dashscope"]


def test_route_to_a_model_the_provider_lacks_is_a_config_error() -> None:
    config = parse_config(
        BASE + "  intl: {kind: dashscope, region: intl, base_url: 'https://y'}\n"
        "routes:\n  wanx-v1:\n    targets:\n      - {provider: intl}\n",
        {},
        "f",
    )
    with pytest.raises(ConfigError, match="does not offer"):
        build_router(config)


def test_catalog_overrides_from_config() -> None:
    config = parse_config(
        BASE + "models:\n  my-snapshot:\n    names: {cn: qwen-image-max-2025-12-30}\n    sync: multimodal\n"
        "    n_max: 1\n    size: {presets: ['1328*1328']}\n",
        {},
        "f",
    )
    route = build_router(config).resolve("my-snapshot")
    assert route.model.upstream_name == "qwen-image-max-2025-12-30"


def test_shipped_configs_load(tmp_path: Path) -> None:
    for path in ("config/gateway.yaml", "config/examples/fallback.yaml"):
        build_router(load_config(path, env={}))


def test_fallback_example_covers_every_model_in_both_regions() -> None:
    config = load_config("config/examples/fallback.yaml", env={})
    both = {m for m, e in load_catalog().models.items() if {"cn", "intl"} <= set(e.names)}
    assert set(config.routes) == both
    for route in config.routes.values():
        assert [t.provider for t in route.targets] == ["dashscope", "dashscope-intl"]


def test_client_keys_are_kept_hashed() -> None:
    config = parse_config(
        BASE + "keys:\n  - {name: a, key: plain-secret-key, models: ['wan*'], rpm: 2, max_n: 2}\n",
        {"GATEWAY_API_KEYS": "other-plain-key"},
        "f",
    )
    ring = KeyRing(config)
    dump = repr(ring.keys) + repr([k.digest for k in ring.keys])
    assert "plain-secret-key" not in dump and "other-plain-key" not in dump
    assert ring.authenticate("Bearer plain-secret-key") is ring.keys[1]
    assert ring.keys[0].name.startswith("key-")


def test_weights_share_first_attempts() -> None:
    config = parse_config(
        BASE + "  intl: {kind: dashscope, region: intl, base_url: 'https://y'}\n"
        "routes:\n  wan2.7-image:\n    targets:\n      - {provider: dashscope, weight: 3}\n"
        "      - {provider: intl, weight: 1}\n  qwen-image-max:\n    targets:\n      - {provider: intl}\n"
        "      - {provider: dashscope}\n",
        {},
        "f",
    )
    router = build_router(config)
    firsts = [router.candidates("wan2.7-image")[0].target.name for _ in range(2000)]
    assert 0.65 < firsts.count("dashscope") / 2000 < 0.85
    assert all(len(router.candidates("wan2.7-image")) == 2 for _ in range(10))
    assert [r.target.name for r in router.candidates("qwen-image-max")] == ["intl", "dashscope"]  # no weights: in order


def test_provider_modules_must_be_a_list_of_names() -> None:
    with pytest.raises(ConfigError, match=r"^f\.yaml:1: provider_modules must be a list of module names$"):
        parse_config("provider_modules: tests.kinds.sketch\nproviders: {}\n", {}, "f.yaml")


def test_a_kind_whose_settings_are_not_tagged_on_kind_is_refused() -> None:
    import msgspec

    from providers import registry
    from providers.kind import ProviderKind, ProviderSettings

    class Wrong(ProviderSettings, frozen=True, tag_field="type", tag="wrong"):
        pass

    with pytest.raises(ValueError, match='tag_field="kind"'):
        registry.register(ProviderKind("wrong", Wrong, msgspec.Struct, lambda s, m: None))  # type: ignore[arg-type,return-value]
    assert registry.find("wrong") is None
