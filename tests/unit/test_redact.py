"""The scrubber every upstream-quoting error passes through."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from providers.errors import UpstreamError
from providers.redact import MAX_UPSTREAM_TEXT, remember, scrub
from providers.secret import Secret

KNOWN = "plain-configured-secret-value"
remember(KNOWN)


@given(st.text(max_size=300), st.text(max_size=300))
def test_a_known_secret_never_survives(before: str, after: str) -> None:
    assert KNOWN not in scrub(before + KNOWN + after)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_-", min_size=12, max_size=60))
def test_key_shaped_tokens_never_survive(tail: str) -> None:
    for text in (f"key sk-{tail} rejected", f"Authorization: Bearer {tail}xyz", f"'authorization': 'x{tail}'"):
        out = scrub(text)
        assert tail not in out, (text, out)


@given(st.text(max_size=5000))
def test_text_is_bounded(text: str) -> None:
    assert len(scrub(text)) <= MAX_UPSTREAM_TEXT + 1


def test_ordinary_text_is_kept() -> None:
    text = "InvalidParameter: size 1792*1024 is not supported, use 1664*928 (task 4f1c9a2e-33b1-4c8e-9d1e-aa00bb11cc22)"
    assert scrub(text) == text


def test_every_held_secret_is_known_and_errors_are_scrubbed() -> None:
    key = Secret("a-provider-key-the-gateway-holds")
    err = UpstreamError(
        f"echoed {key.reveal()}",
        code=key.reveal(),
        upstream_code=f"bad {key.reveal()}",
        upstream_request_id=f"req-{key.reveal()}",
    )
    for text in (err.message, err.code or "", err.upstream_code or "", repr(err), str(err)):
        assert key.reveal() not in text
