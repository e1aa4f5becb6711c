"""Signed file URLs for the local store: ``?expires=<unix s>&signature=<base64url HMAC-SHA256>``.

The signature covers the object name and the expiry, so neither can be changed, and
nothing is kept per URL: any replica holding the secret checks any URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal

__all__ = ["Verdict", "sign", "verify"]

Verdict = Literal["ok", "expired", "invalid"]


def sign(secret: bytes, name: str, expires: int) -> str:
    digest = hmac.new(secret, f"{name}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(secret: bytes, name: str, expires: str, signature: str, now: float) -> Verdict:
    """Checked in constant time; an expiry that is not plain ASCII digits ("¹" is a digit to
    str.isdigit) is as bad as a wrong signature."""
    if not (expires.isascii() and expires.isdigit()) or len(expires) > 12 or len(signature) > 64:
        return "invalid"
    if not hmac.compare_digest(sign(secret, name, int(expires)).encode(), signature.encode("utf-8", "replace")):
        return "invalid"
    return "expired" if int(expires) < now else "ok"
