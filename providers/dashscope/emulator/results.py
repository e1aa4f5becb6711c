"""Signed result-file URLs in the OSS style, and the answers for GETs on them.

Path: ``/results/{owner}/{index}_{W}x{H}_{RRGGBB}[_broken|_html][.{caption}].png`` where ``owner`` is the task
or request id, ``RRGGBB`` the image's key colour and ``caption`` the url-safe base64 (unpadded) of the msgpack
array ``[model, prompt start, seed]`` the picture writes on itself; query: ``Expires`` (unix seconds),
``OSSAccessKeyId``, ``Signature`` (base64 HMAC-SHA1 of ``"{Expires}\\n{path}"``, so it covers the caption).
Everything the GET needs is in the signed path, so nothing is stored per image. A path without the caption
part is still served, as a picture with the size alone on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote

import msgspec

ACCESS_KEY_ID = "LTAI5tEmulatorResults"
# The mode comes before the caption: base64url has "_" but no ".", so the two never run together.
_NAME = re.compile(r"([0-9]+)_([0-9]+)x([0-9]+)_([0-9a-f]{6})(_broken|_html)?(?:\.([A-Za-z0-9_-]{1,400}))?\.png")
#: Bounds on what a URL carries, so that result URLs stay short whatever the request.
MODEL_CHARS = 40
PROMPT_CHARS = 60


@dataclass(frozen=True, slots=True)
class ImageSpec:
    width: int
    height: int
    colour: int
    mode: str = ""  # "", "_broken" (404) or "_html" (200 text/html)
    # The caption: printable ASCII of at most MODEL_CHARS and PROMPT_CHARS (see plan.fold_text).
    model: str = ""
    prompt: str = ""
    seed: int | None = None


class _Caption(msgspec.Struct, array_like=True, frozen=True):
    model: str
    prompt: str
    seed: int | None


def _caption_token(spec: ImageSpec) -> str:
    if not spec.model and not spec.prompt and spec.seed is None:
        return ""
    packed = msgspec.msgpack.encode(_Caption(spec.model, spec.prompt, spec.seed))
    return "." + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


def _read_caption(token: str) -> _Caption | None:
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return msgspec.msgpack.decode(packed, type=_Caption)
    except (ValueError, msgspec.DecodeError):
        return None


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
        name = f"{index}_{spec.width}x{spec.height}_{spec.colour:06x}{spec.mode}{_caption_token(spec)}.png"
        path = f"/results/{owner}/{name}"
        signature = quote(self._sign(expires, path), safe="")
        return f"{base.rstrip('/')}{path}?Expires={expires}&OSSAccessKeyId={ACCESS_KEY_ID}&Signature={signature}"

    def check(self, path: str, name: str, query: dict[str, str], now: float) -> tuple[int, ImageSpec] | Denied:
        """The index and spec a signed, unexpired result URL names, or why not."""
        expires_text, signature = query.get("Expires", ""), query.get("Signature", "")
        if not expires_text or not signature or "OSSAccessKeyId" not in query:
            return Denied(403, "AccessDenied", "You have no right to access this object because of bucket acl.")
        good = expires_text.isdigit() and hmac.compare_digest(self._sign(int(expires_text), path), signature)
        match = _NAME.fullmatch(name)
        # The caption is signed, so it reads unless the signature is bad too; never trust it before that.
        caption = _read_caption(match.group(6)) if match and match.group(6) else _Caption("", "", None)
        if not good or match is None or caption is None:
            return Denied(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )
        if int(expires_text) < now:
            return Denied(403, "AccessDenied", "Request has expired.")
        width, height, colour = int(match.group(2)), int(match.group(3)), int(match.group(4), 16)
        spec = ImageSpec(width, height, colour, match.group(5) or "", caption.model, caption.prompt, caption.seed)
        if spec.mode == "_broken":
            return Denied(404, "NoSuchKey", "The specified key does not exist.")
        return int(match.group(1)), spec


def oss_error_xml(denied: Denied, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{denied.code}</Code>\n  <Message>{denied.message}</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n  <HostId>dashscope-emulator.oss.local</HostId>\n</Error>\n"
    ).encode()
