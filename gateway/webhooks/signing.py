"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``.

The HMAC is written here rather than taken from the ``standardwebhooks`` package (Svix's
reference implementation, which has no dependencies): its ``sign`` takes the body as ``str``
and the time as a ``datetime``, while a job's answer with base64 images can be tens of
megabytes that are signed here as the very bytes sent, without a decode and re-encode. The
tests verify these signatures with that package, so the two are checked against each other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["PREFIX", "message_id", "secret_key", "sign", "signed_headers"]

PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64 after ``whsec_`` (padding optional, as the reference accepts it)."""
    body = secret.removeprefix(PREFIX)
    return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)


def message_id(job_id: str) -> str:
    """``msg_<hex>``, fixed by the job: every attempt, from any replica, has the same id to dedupe on."""
    return "msg_" + job_id.rsplit("_", 1)[-1]


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers; the timestamp is the attempt's (receivers refuse old ones), the id the message's."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, msg_id, timestamp, body),
    }
