"""Input image references: http(s) URLs (accepted unfetched), ``oss://`` and ``data:`` URIs (checked)."""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image

from .errors import invalid
from .rules import ImageRule

_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[\w.+-]+)*);base64,(.*)", re.DOTALL)
_URL_ERROR = "url error, please check url!"
_FORMAT_ALIASES = {"MPO": "JPEG"}  # Pillow reports some camera JPEGs as MPO


@dataclass(frozen=True, slots=True)
class InputImage:
    source: str  # "url", "oss" or "data"
    width: int | None = None
    height: int | None = None
    format: str | None = None


def check_image(ref: str, rule: ImageRule, *, oss_resolve: bool, label: str) -> InputImage:
    if ref.startswith("data:"):
        return _check_data(ref, rule, label)
    parts = urlsplit(ref)
    if parts.scheme == "oss":
        if not oss_resolve or not parts.netloc:
            raise invalid(_URL_ERROR)
        return InputImage("oss")
    if parts.scheme in ("http", "https") and parts.hostname:
        return InputImage("url")
    raise invalid(_URL_ERROR)


def _check_data(ref: str, rule: ImageRule, label: str) -> InputImage:
    match = _DATA_URI.fullmatch(ref)
    if match is None:
        raise invalid(f"{label} is not a valid data URI, expected data:{{mime}};base64,{{data}}")
    try:
        raw = base64.b64decode(re.sub(r"\s+", "", match.group(3)), validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{label} has invalid base64 data") from None
    if len(raw) > rule.max_bytes:
        raise invalid(f"{label} is {len(raw)} bytes, over the {rule.max_bytes // (1024 * 1024)}MB limit")
    fmt, width, height, alpha = _identify(raw, label)
    if fmt not in rule.formats:
        allowed = ", ".join(sorted(rule.formats))
        raise invalid(f"{label} format {fmt} is not supported, use one of: {allowed}")
    _check_geometry(rule, width, height, label)
    if rule.no_alpha and alpha:
        raise invalid(f"{label} has an alpha channel, which is not supported")
    return InputImage("data", width, height, fmt)


def _identify(raw: bytes, label: str) -> tuple[str, int, int, bool]:
    """Format by magic bytes and the header's size, without decoding pixels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(raw)) as img:
                fmt = _FORMAT_ALIASES.get(img.format or "", img.format or "")
                alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info
                return fmt, img.width, img.height, alpha
        except (OSError, ValueError, Image.DecompressionBombError):
            raise invalid(f"{label} is not a decodable image") from None


def _check_geometry(rule: ImageRule, width: int, height: int, label: str) -> None:
    if rule.smin is not None and min(width, height) < rule.smin:
        raise invalid(f"{label} is {width}*{height}; each side must be at least {rule.smin} pixels")
    if rule.smax is not None and max(width, height) > rule.smax:
        raise invalid(f"{label} is {width}*{height}; each side must be at most {rule.smax} pixels")
    ratio = width / height
    if (rule.rmin is not None and ratio < rule.rmin) or (rule.rmax is not None and ratio > rule.rmax):
        raise invalid(f"{label} is {width}*{height}; its aspect ratio is out of range")
