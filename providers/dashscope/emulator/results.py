"""Signed result-file URLs in the OSS style, and the answers for GETs on them.

Path: ``/results/{owner}/{index}_{W}x{H}_{RRGGBB}[_broken|_html].png`` where ``owner`` is the task or request
id; query: ``Expires`` (unix seconds), ``OSSAccessKeyId``, ``Signature`` (base64 HMAC-SHA1 of
``"{Expires}\\n{path}"``). Everything the GET needs is in the signed path, so nothing is stored per image.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote

ACCESS_KEY_ID = "LTAI5tEmulatorResults"
_NAME = re.compile(r"([0-9]+)_([0-9]+)x([0-9]+)_([0-9a-f]{6})(_broken|_html)?\.png")


@dataclass(frozen=True, slots=True)
class ImageSpec:
    width: int
    height: int
    colour: int
    mode: str = ""  # "", "_broken" (404) or "_html" (200 text/html)


@dataclass(frozen=True, slots=True)
class Denied:
    """An OSS-style refusal of a result GET."""

    status: int
    code: str
    message: str


class Signer:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _sign(self, expires: int, path: str) -> str:
        digest = hmac.new(self._secret, f"{expires}\n{path}".encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    def url(self, base: str, owner: str, index: int, spec: ImageSpec, expires: int) -> str:
        path = f"/results/{owner}/{index}_{spec.width}x{spec.height}_{spec.colour:06x}{spec.mode}.png"
        signature = quote(self._sign(expires, path), safe="")
        return f"{base.rstrip('/')}{path}?Expires={expires}&OSSAccessKeyId={ACCESS_KEY_ID}&Signature={signature}"

    def check(self, path: str, name: str, query: dict[str, str], now: float) -> ImageSpec | Denied:
        expires_text, signature = query.get("Expires", ""), query.get("Signature", "")
        if not expires_text or not signature or "OSSAccessKeyId" not in query:
            return Denied(403, "AccessDenied", "You have no right to access this object because of bucket acl.")
        good = expires_text.isdigit() and hmac.compare_digest(self._sign(int(expires_text), path), signature)
        match = _NAME.fullmatch(name)
        if not good or match is None:
            return Denied(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )
        if int(expires_text) < now:
            return Denied(403, "AccessDenied", "Request has expired.")
        spec = ImageSpec(int(match.group(2)), int(match.group(3)), int(match.group(4), 16), match.group(5) or "")
        if spec.mode == "_broken":
            return Denied(404, "NoSuchKey", "The specified key does not exist.")
        return spec


def oss_error_xml(denied: Denied, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{denied.code}</Code>\n  <Message>{denied.message}</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n  <HostId>dashscope-emulator.oss.local</HostId>\n</Error>\n"
    ).encode()
