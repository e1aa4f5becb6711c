"""Result storage's pure parts: URL signatures, object names, settings, retention."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.settings import ConfigError, LocalStorageSettings, NoStorage, S3StorageSettings, parse_config
from gateway.storage import signing
from gateway.storage.local import LocalStore, _remove_older
from gateway.storage.naming import FILE_NAME, object_name, valid_prefix
from providers.secret import Secret

SECRET = b"0123456789abcdef0123456789abcdef"
BASE = "providers:\n  dashscope: {kind: dashscope, region: cn, base_url: 'https://x'}\n"

names = st.from_regex(r"[0-9]{4}/[0-9]{2}/[0-9]{2}/req_[0-9a-f]{8}-[0-9]\.png", fullmatch=True)


@given(names, st.integers(min_value=0, max_value=10**11))
def test_a_signature_verifies_only_its_own_name_and_expiry(name: str, expires: int) -> None:
    signature = signing.sign(SECRET, name, expires)
    now = float(expires - 1)
    assert signing.verify(SECRET, name, str(expires), signature, now) == "ok"
    assert signing.verify(SECRET, name, str(expires), signature, float(expires + 1)) == "expired"
    assert signing.verify(SECRET, name + "x", str(expires), signature, now) == "invalid"
    assert signing.verify(SECRET, name, str(expires + 1), signature, now) == "invalid"
    assert signing.verify(b"another secret, same length...!", name, str(expires), signature, now) == "invalid"


@given(st.text(max_size=80), st.text(max_size=20))
def test_garbage_never_verifies(signature: str, expires: str) -> None:
    assert signing.verify(SECRET, "2026/01/01/req_1-0.png", expires, signature, 0.0) == "invalid"


@given(
    st.text(max_size=200),
    st.integers(min_value=0, max_value=99),
    st.sampled_from(["PNG", "JPEG", "WEBP", "BMP"]),
    st.sampled_from(["", "images/", "a/b-c/d_e/"]),
)
def test_every_name_made_is_one_the_file_route_opens(request_id: str, index: int, fmt: str, prefix: str) -> None:
    name = object_name(prefix, datetime(2026, 12, 3, 23, 59, tzinfo=UTC), request_id, index, fmt)
    assert FILE_NAME.fullmatch(name)
    assert name.startswith(f"{prefix}2026/12/03/")
    assert ".." not in name


def test_names_follow_the_documented_shape() -> None:
    when = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    assert object_name("img/", when, "req_abc", 1, "JPEG") == "img/2026/03/04/req_abc-1.jpg"


@pytest.mark.parametrize("name", ["../etc/passwd", "2026/01/01/x-0.png.meta.json", "/abs/2026/01/01/x-0.png", ""])
def test_the_file_route_opens_nothing_else(name: str, tmp_path: Path) -> None:
    store = LocalStore(LocalStorageSettings(directory=str(tmp_path), url_secret=_secret()))
    assert store.path_of(name) is None


def _secret() -> Secret:
    return Secret("s" * 32)


@pytest.mark.parametrize("prefix, ok", [("", True), ("a/", True), ("a/b/", True), ("a", False), ("../", False)])
def test_prefixes(prefix: str, ok: bool) -> None:
    assert valid_prefix(prefix) is ok


def test_storage_defaults_to_none() -> None:
    assert isinstance(parse_config(BASE, {}, "f").storage, NoStorage)


def test_local_storage_lives_in_the_data_directory() -> None:
    text = BASE + "storage: {kind: local, url_secret: '${S}'}\n"
    config = parse_config(text, {"S": "x" * 32, "GATEWAY_DATA_DIR": "/srv/gw"}, "f")
    assert isinstance(config.storage, LocalStorageSettings)
    assert config.storage.directory == "/srv/gw/images"
    assert config.storage.url_ttl_seconds == 7 * 86400 and config.storage.retention_days == 30
    assert parse_config(text, {"S": "x" * 32}, "f").storage.directory == "data/images"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "storage, message",
    [
        ("{kind: local}", "storage.url_secret must be set"),
        ("{kind: local, url_secret: '${UNSET}'}", "storage.url_secret must be set"),
        ("{kind: s3}", "bucket"),
        ("{kind: s3, bucket: b, url: public}", "needs storage.public_base_url"),
        ("{kind: s3, bucket: b, url_ttl_seconds: 604801}", "604800"),
        ("{kind: s3, bucket: b, access_key_id: '${S}'}", "both access_key_id and secret_access_key"),
        ("{kind: s3, bucket: b, prefix: 'no-slash'}", "storage.prefix"),
        ("{kind: local, url_secret: '${S}', public_base_url: 'ftp://x'}", "public_base_url"),
        ("{kind: gcs}", "kind"),
    ],
)
def test_storage_config_errors_name_the_line(storage: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + f"storage: {storage}\n", {"S": "secret-value-long-enough-1234"}, "f.yaml")
    assert message in str(info.value)
    assert "f.yaml:3" in str(info.value)
    assert "secret-value-long-enough-1234" not in str(info.value)


def test_s3_settings_never_show_their_keys() -> None:
    config = parse_config(
        BASE + "storage: {kind: s3, bucket: b, access_key_id: '${A}', secret_access_key: '${S}'}\n",
        {"A": "AKIAEXAMPLE", "S": "very-secret-key"},
        "f",
    )
    assert isinstance(config.storage, S3StorageSettings)
    assert "very-secret-key" not in repr(config.storage)


def test_cleanup_removes_only_what_is_past_retention(tmp_path: Path) -> None:
    old = tmp_path / "2026/01/01/req_a-0.png"
    new = tmp_path / "2026/12/01/req_b-0.png"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
        path.with_name(path.name + ".meta.json").write_text("{}")
    month_ago = time.time() - 31 * 86400
    for path in (old, old.with_name(old.name + ".meta.json")):
        os.utime(path, (month_ago, month_ago))
    assert _remove_older(tmp_path, time.time() - 30 * 86400) == 1
    assert not old.exists() and not old.parent.exists() and new.exists()
