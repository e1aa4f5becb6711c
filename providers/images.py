"""Input images for edits and chat: format, size and alpha checks, flattening, data URIs.

Pure functions over bytes (Pillow reads headers; pixels are decoded only to
flatten an alpha channel), so every rule is unit-testable. Each failure is a
400 naming the request field, raised before anything is sent upstream.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from providers.base import ModelInfo
from providers.errors import InvalidRequest

# Pillow is imported where an image is looked at: 2 MiB an idle gateway does not hold.
if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "MIME_TYPES",
    "ImageLimits",
    "InputImage",
    "decode_data_uri",
    "encode_opaque",
    "flatten_alpha",
    "inspect_image",
    "onto_white",
    "prepare_image",
    "sniff_format",
    "to_data_uri",
]

MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "BMP": "image/bmp"}
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})
_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[\w.+-]+)*);base64,(.*)", re.DOTALL)
_WHITE = (255, 255, 255)
#: Flattening re-encodes: fast PNG first, a near-lossless JPEG when that is over the byte limit.
_PNG_LEVEL = 3
_JPEG_QUALITY = 95


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """What one model accepts per input image."""

    max_bytes: int
    min_side: int = 240
    max_side: int = 8000
    min_ratio: float = 1 / 8
    max_ratio: float = 8.0
    #: False: the model rejects images with an alpha channel, so they are flattened first.
    alpha: bool = True

    @classmethod
    def of(cls, info: ModelInfo) -> ImageLimits:
        return cls(
            max_bytes=info.image_max_bytes,
            min_side=info.image_side[0],
            max_side=info.image_side[1],
            min_ratio=info.image_ratio[0],
            max_ratio=info.image_ratio[1],
            alpha=info.image_alpha,
        )


@dataclass(frozen=True, slots=True)
class InputImage:
    data: bytes
    format: str
    width: int
    height: int
    has_alpha: bool

    @property
    def mime(self) -> str:
        return MIME_TYPES[self.format]

    def __repr__(self) -> str:
        return f"InputImage({self.format} {self.width}x{self.height}, {len(self.data)} bytes)"


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="invalid_image")


def sniff_format(data: bytes) -> str | None:
    """PNG, JPEG, WEBP or BMP by magic bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith(b"BM"):
        return "BMP"
    return None


def _complete(data: bytes, fmt: str) -> bool:
    """Whether the file is all there, judged by its structure, without decoding a pixel.

    A cut-off upload passes the magic bytes and the header, and would go upstream as a
    broken image (billed or refused there). Decoding it to be sure would cost width x
    height x 4 bytes; these checks cost nothing.
    """
    from PIL import Image

    if fmt == "JPEG":
        return data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")  # the end-of-image marker
    if fmt == "WEBP":
        return len(data) >= 12 and int.from_bytes(data[4:8], "little") + 8 <= len(data)
    if fmt == "BMP":
        if len(data) < 54 or int.from_bytes(data[2:6], "little") > len(data):
            return False
        # Uncompressed BMPs: the pixel array must fit too (bfSize is 0 in some writers).
        offset = int.from_bytes(data[10:14], "little")
        width = int.from_bytes(data[18:22], "little", signed=True)
        height = abs(int.from_bytes(data[22:26], "little", signed=True))
        bits = int.from_bytes(data[28:30], "little")
        compression = int.from_bytes(data[30:34], "little")
        if compression == 0 and width > 0 and bits:
            return offset + (width * bits + 31) // 32 * 4 * height <= len(data)
        return True
    # PNG: the IEND chunk, CRC included, near the end (verify() forgives a cut-off IEND),
    # and every chunk before it whole.
    if b"IEND\xaeB`\x82" not in data[-1024:]:
        return False
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            img.verify()  # walks every chunk to IEND, checking CRCs; decodes nothing
    except Exception:  # Pillow raises many types for a broken file
        return False
    return True


def inspect_image(data: bytes, *, label: str, param: str = "image") -> InputImage:
    """Format, dimensions and alpha from the header; the file checked whole. Raises InvalidRequest."""
    from PIL import Image

    fmt = sniff_format(data)
    if fmt is None:
        raise _bad(f"{label} is not a PNG, JPEG, WEBP or BMP image", param)
    with warnings.catch_warnings():
        # Sides are checked against the model's limit next; a huge header must not warn or raise here.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[fmt]) as img:
                alpha = img.mode in _ALPHA_MODES or "transparency" in img.info
                image = InputImage(data, fmt, img.width, img.height, alpha)
        except Image.DecompressionBombError:
            raise _bad(f"{label} has far too many pixels", param) from None
        except (OSError, ValueError, SyntaxError):
            raise _bad(f"{label} looks like {fmt} but cannot be read", param) from None
    if not _complete(data, fmt):
        raise _bad(f"{label} is an incomplete {fmt} file (cut off in upload?)", param)
    return image


def _check(image: InputImage, limits: ImageLimits, label: str, param: str) -> None:
    if len(image.data) > limits.max_bytes:
        raise _bad(f"{label} is {len(image.data)} bytes; this model takes at most {limits.max_bytes}", param)
    w, h = image.width, image.height
    if min(w, h) < limits.min_side or max(w, h) > limits.max_side:
        raise _bad(f"{label} is {w}x{h}; each side must be {limits.min_side}..{limits.max_side} pixels", param)
    ratio = w / h
    if not limits.min_ratio - 1e-9 <= ratio <= limits.max_ratio + 1e-9:
        raise _bad(
            f"{label} is {w}x{h}; its width/height must be between {limits.min_ratio:g} and {limits.max_ratio:g}",
            param,
        )


def onto_white(image: Image.Image) -> Image.Image:
    """The image composited onto white, without an alpha channel."""
    from PIL import Image

    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def encode_opaque(image: Image.Image, max_bytes: int | None = None) -> tuple[bytes, str]:
    """An opaque image as PNG, or as a near-lossless JPEG when the PNG is over ``max_bytes``: (bytes, format)."""
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=_PNG_LEVEL)
    if max_bytes is None or out.tell() <= max_bytes:
        return out.getvalue(), "PNG"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=_JPEG_QUALITY)
    return out.getvalue(), "JPEG"


def flatten_alpha(image: InputImage, *, max_bytes: int | None = None) -> InputImage:
    """The image composited onto white without an alpha channel (PNG, or JPEG when PNG is too big)."""
    from PIL import Image

    with Image.open(io.BytesIO(image.data), formats=[image.format]) as img:
        flat = onto_white(img)
    data, fmt = encode_opaque(flat, max_bytes)
    return InputImage(data, fmt, image.width, image.height, False)


def prepare_image(data: bytes, limits: ImageLimits, *, label: str, param: str = "image") -> InputImage:
    """A checked image the model accepts. Raises InvalidRequest naming ``param``."""
    if len(data) > limits.max_bytes:  # before any parsing: the cheapest rejection first
        raise _bad(f"{label} is {len(data)} bytes; this model takes at most {limits.max_bytes}", param)
    image = inspect_image(data, label=label, param=param)
    _check(image, limits, label, param)
    if image.has_alpha and not limits.alpha:
        # OpenAI edit inputs are often RGBA PNGs (transparent = "edit here"), but some
        # models (wan2.7: "alpha channel not supported") reject any alpha channel.
        try:
            image = flatten_alpha(image, max_bytes=limits.max_bytes)
        except (OSError, ValueError, SyntaxError):  # a header that reads but pixels that do not
            raise _bad(f"{label} looks like {image.format} but its pixels cannot be read", param) from None
        if len(image.data) > limits.max_bytes:
            raise _bad(f"{label} exceeds {limits.max_bytes} bytes once its alpha channel is removed", param)
    return image


def decode_data_uri(uri: str, *, label: str, param: str = "image") -> bytes:
    """The bytes of a ``data:[mime];base64,...`` URI. Raises InvalidRequest."""
    match = _DATA_URI.fullmatch(uri)
    if match is None:
        raise _bad(f"{label} is not a base64 data URI (data:image/png;base64,...)", param)
    try:
        return base64.b64decode(re.sub(r"\s+", "", match.group(3)), validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"{label} holds invalid base64", param) from None


def to_data_uri(image: InputImage) -> str:
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"
