"""Webhooks without a network: signatures, which hosts and addresses are allowed, the retry schedule, config."""

from __future__ import annotations

import asyncio
import base64
import time

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.http.auth import KeyRing
from gateway.settings import DEFAULT_RETRY_SCHEDULE, ConfigError, parse_config
from gateway.webhooks import signing, targets
from gateway.webhooks.delivery import WINDOW_SECONDS, retry_delay
from gateway.webhooks.targets import WebhookNotAllowed, check, host_listed, internal_address

# The reference implementation's own test vector (standard-webhooks, libraries/python/tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID, VECTOR_TIME, VECTOR_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_known_vector() -> None:
    key = signing.secret_key(VECTOR_SECRET)
    assert signing.sign(key, VECTOR_ID, VECTOR_TIME, VECTOR_BODY) == VECTOR_SIGNATURE


@settings(max_examples=50, deadline=None)
@given(text=st.text(max_size=500), raw_key=st.binary(min_size=16, max_size=64))
def test_the_reference_library_verifies_our_signatures(text: str, raw_key: bytes) -> None:
    body = msgspec.json.encode({"type": "image.job.succeeded", "data": {"prompt": text}})
    secret = "whsec_" + base64.b64encode(raw_key).decode()
    msg_id = signing.message_id("imgjob_0123456789abcdef01234567")
    headers = signing.signed_headers(signing.secret_key(secret), msg_id, int(time.time()), body)
    Webhook(secret).verify(body, headers)
    tampered = {**headers, "webhook-id": "msg_other"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, tampered)


def test_message_id_is_fixed_by_the_job() -> None:
    assert signing.message_id("imgjob_3f9c00") == "msg_3f9c00" == signing.message_id("imgjob_3f9c00")


label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
domain = st.lists(label, min_size=1, max_size=3).map(".".join)


@given(sub=label, base=domain)
def test_wildcards_match_subdomains_only(sub: str, base: str) -> None:
    assert host_listed(f"{sub}.{base}", [f"*.{base}"]) == "pattern"
    assert host_listed(f"{sub}.{base}".upper() + ".", [f"*.{base}"]) == "pattern"
    assert host_listed(base, [f"*.{base}"]) is None
    assert host_listed(f"{sub}{base}", [f"*.{base}"]) is None  # no dot: another domain
    assert host_listed(f"{sub}.{base}.evil.test", [f"*.{base}"]) is None
    assert host_listed(base, [f"*.{base}", base]) == "exact"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::",
        "::1",
        "fe80::1",
        "fe80::1%2",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
        "239.1.1.1",
        "ff02::1",
    ],
)
def test_internal_addresses(address: str) -> None:
    assert internal_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert not internal_address(address)


def allowed(url: str, patterns: tuple[str, ...]) -> bool:
    try:
        asyncio.run(check(url, patterns))
    except WebhookNotAllowed:
        return False
    return True


def test_internal_addresses_only_when_listed_exactly() -> None:
    assert not allowed("http://127.0.0.1:9/hook", ("*",))  # a wildcard never opens loopback
    assert not allowed("http://10.0.0.7/hook", ("*",))
    assert not allowed("http://localhost:9/hook", ("*",))  # a name judged by where it points
    assert not allowed("http://[::1]:9/hook", ("*",))
    assert allowed("http://127.0.0.1:9/hook", ("127.0.0.1",))
    assert allowed("http://[::1]:9/hook", ("[::1]",))
    # A name listed exactly still needs its internal address listed: its owner's DNS could
    # point it anywhere inside, and the issue opens internal addresses only when they are listed.
    assert not allowed("http://localhost:9/hook", ("localhost",))
    assert allowed("http://localhost:9/hook", ("localhost", "127.0.0.1", "::1"))
    assert allowed("https://8.8.8.8/hook", ("*",))
    assert not allowed("https://8.8.8.8/hook", ("1.1.1.1", "*.example.com"))


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://127.0.0.1/x", "https://"),
        ("http://user:pw@127.0.0.1/x", "user name"),
        ("http://127.0.0.1/" + "a" * 2048, "longer than"),
        ("not a url", "https://"),
        ("http:///path", "no host"),
        ("https://hooks.example.com/x", "not allowed"),
    ],
)
def test_bad_urls_are_refused_without_echoing_them(url: str, words: str) -> None:
    with pytest.raises(WebhookNotAllowed) as caught:
        asyncio.run(check(url, ("127.0.0.1",)))
    assert words in caught.value.message and caught.value.param == "webhook_url"
    assert "pw" not in caught.value.message and "/x" not in caught.value.message


def test_unresolvable_host() -> None:
    with pytest.raises(targets.Unresolvable):
        asyncio.run(check("https://no-such-host.invalid/hook", ("*.invalid",)))


@settings(max_examples=300)
@given(
    schedule=st.lists(st.floats(0, 100_000), min_size=1, max_size=12),
    max_attempts=st.integers(1, 30),
)
def test_retries_are_bounded_in_number_and_time(schedule: list[float], max_attempts: int) -> None:
    attempts, elapsed = 1, 0.0
    while (delay := retry_delay(attempts, schedule, max_attempts, elapsed)) is not None:
        assert delay >= 0
        elapsed += delay
        attempts += 1
    assert attempts <= max_attempts and elapsed <= WINDOW_SECONDS


def test_default_schedule() -> None:
    delays = [retry_delay(n, DEFAULT_RETRY_SCHEDULE, 8, 0) for n in range(1, 9)]
    assert delays == [5, 30, 120, 600, 3600, 10800, 21600, None]  # 8 attempts, the last ~10 h in
    assert retry_delay(1, DEFAULT_RETRY_SCHEDULE, 8, WINDOW_SECONDS - 1) is None  # past 24 h


BASE = "providers:\n  dashscope: {kind: dashscope, region: cn}\n"


def test_webhook_config() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    text = (
        BASE
        + "webhooks:\n  secret: ${WEBHOOK_SECRET}\n  allowed_hosts: ['*.example.com']\n"
        + "keys:\n  - {name: a, key: '${A}', webhook_hosts: [hooks.a.test]}\n"
    )
    config = parse_config(text, {"WEBHOOK_SECRET": secret, "A": "gw-a"}, "c.yaml")
    assert config.webhooks.secret is not None and config.webhooks.secret.reveal() == secret
    assert secret not in repr(config)
    assert config.webhooks.allowed_hosts == ("*.example.com",)
    ring = KeyRing(config)
    key = ring.named("a")
    assert key is not None and key.webhook_hosts == ("hooks.a.test",) and ring.named("b") is None
    assert parse_config(text, {"A": "gw-a"}, "c.yaml").webhooks.secret is None  # unset: webhooks off


@pytest.mark.parametrize("bad", ["not-whsec", "whsec_", "whsec_!!!!", "whsec_" + base64.b64encode(b"short").decode()])
def test_a_bad_secret_is_named_but_not_shown(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + "webhooks:\n  secret: ${WEBHOOK_SECRET}\n", {"WEBHOOK_SECRET": bad}, "c.yaml")
    message = str(caught.value)
    assert "c.yaml:3" in message and "webhooks.secret must be" in message
    assert bad not in message.replace("'whsec_'", "")


def test_webhook_url_is_never_a_provider_extra() -> None:
    from gateway.service.ask import provider_fields

    body = b'{"prompt": "p", "seed": 3, "webhook_url": "https://hooks.example.com/x"}'
    assert msgspec.json.decode(provider_fields(body)) == {"prompt": "p", "seed": 3}  # type: ignore[arg-type]
    untouched = b'{"prompt": "p"}'
    assert provider_fields(untouched) is untouched
    assert provider_fields({"webhook_url": "u", "seed": "3"}) == {"seed": "3"}
