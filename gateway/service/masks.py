"""OpenAI masks -> the white/black masks DashScope's inpainting takes.

OpenAI marks the area to edit with transparent pixels (alpha 0) of a PNG the size of
the image; wanx2.1-imageedit wants an RGB mask of the same size where pure white is
the area to edit and pure black is kept
(https://www.alibabacloud.com/help/en/model-studio/wanx-image-edit). So: alpha < 128
becomes white, the rest black; the mask is resized to the image (nearest neighbour,
so it stays two-coloured); both are scaled by one factor into the model's side
bounds; the image's own alpha is flattened onto white. Pure functions, run on the
image worker pool.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

from providers.errors import InvalidRequest
from providers.images import MIME_TYPES, encode_opaque, inspect_image, onto_white

# Pillow is imported where an image is looked at: 2 MiB an idle gateway does not hold.
if TYPE_CHECKING:
    from PIL import Image

__all__ = ["MaskedImage", "translate_mask"]

#: Decoding is bounded like every input image: past this, it is not an edit input.
_MAX_PIXELS = 8192 * 8192
_THRESHOLD = 128


class MaskedImage:
    __slots__ = ("image", "mask", "size")

    def __init__(self, image: str, mask: str, size: tuple[int, int]) -> None:
        self.image, self.mask, self.size = image, mask, size

    def __repr__(self) -> str:
        return f"MaskedImage({self.size[0]}x{self.size[1]})"


def _open(data: bytes, label: str, param: str) -> Image.Image:
    from PIL import Image, ImageOps

    info = inspect_image(data, label=label, param=param)  # format, completeness, decompression bombs
    if info.width * info.height > _MAX_PIXELS:
        raise InvalidRequest(f"{label} is {info.width}x{info.height}: too large", param=param, code="invalid_image")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        # As shown, not as stored: a phone photo's mask is drawn on the upright picture.
        return ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError):
        raise InvalidRequest(f"{label} cannot be read", param=param, code="invalid_image") from None


def _uri(image: Image.Image, max_bytes: int) -> str:
    """PNG, or a near-lossless JPEG when the PNG would be over the model's limit (the image is opaque)."""
    data, fmt = encode_opaque(image, max_bytes)
    if len(data) > max_bytes:
        raise InvalidRequest(
            f"The image is {len(data)} bytes once prepared for the mask model; it takes at most {max_bytes}",
            param="image",
            code="invalid_image",
        )
    return f"data:{MIME_TYPES[fmt]};base64," + base64.b64encode(data).decode("ascii")


def _fit(size: tuple[int, int], sides: tuple[int, int]) -> tuple[int, int]:
    """``size`` scaled by one factor so that both sides lie within ``sides``; 400 when none does."""
    width, height = size
    low, high = sides
    factor = 1.0
    if min(width, height) < low:
        factor = low / min(width, height)
    if max(width, height) * factor > high:
        factor = high / max(width, height)
    fitted = (round(width * factor), round(height * factor))
    if min(fitted) < low or max(fitted) > high:
        raise InvalidRequest(
            f"The image is {width}x{height}: no scaling brings both sides within {low}..{high} pixels "
            "for the mask model (its aspect ratio is too extreme)",
            param="image",
            code="invalid_image",
        )
    return fitted


def translate_mask(image_data: bytes, mask_data: bytes, sides: tuple[int, int], max_bytes: int) -> MaskedImage:
    """The image and its DashScope mask, as data URIs of the same size within ``sides``."""
    from PIL import Image

    mask = _open(mask_data, "The mask", "mask")
    if "A" not in mask.getbands() and "transparency" not in mask.info:
        raise InvalidRequest(
            "The mask has no alpha channel: as with OpenAI, its transparent pixels mark the area to edit",
            param="mask",
            code="invalid_image",
        )
    alpha = mask.convert("RGBA").getchannel("A")
    binary = alpha.point(lambda a: 255 if a < _THRESHOLD else 0).convert("RGB")
    if binary.getextrema() == ((0, 0), (0, 0), (0, 0)):
        raise InvalidRequest("The mask has no transparent pixels: nothing to edit", param="mask", code="invalid_image")
    base = _open(image_data, "image 1", "image")
    if abs(mask.width / mask.height - base.width / base.height) > 0.01 * base.width / base.height:
        raise InvalidRequest(
            f"The mask is {mask.width}x{mask.height} and the image {base.width}x{base.height}: "
            "a mask must have the image's shape",
            param="mask",
            code="invalid_image",
        )
    flat = onto_white(base) if "A" in base.getbands() or "transparency" in base.info else base.convert("RGB")
    if binary.size != flat.size:
        binary = binary.resize(flat.size, Image.Resampling.NEAREST)
    size = _fit(flat.size, sides)
    if size != flat.size:
        flat = flat.resize(size, Image.Resampling.LANCZOS)
        binary = binary.resize(size, Image.Resampling.NEAREST)
    return MaskedImage(_uri(flat, max_bytes), _uri(binary, max_bytes), size)
