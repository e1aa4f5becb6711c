"""How the images go back: as GPT-image models answer or as DALL-E does, and in which file format.

OpenAI's GPT-image models always answer with ``b64_json`` and echo ``size``,
``quality``, ``output_format`` and ``background``; apps written for them decode
``data[0].b64_json`` and crash on a ``url``. A request is answered that way when the
model name it sent is a GPT-image name, or when it uses a parameter only GPT-image
models take. Other requests keep DALL-E's answer: ``url`` unless ``b64_json`` was asked.

``output_format`` and ``output_compression`` are honoured by re-encoding the
downloaded image (Pillow, on the image worker pool). A ``url`` answer hands out the
provider's own file, a PNG, so any other format with ``url`` is a 400.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.wire.images import EditRequest, ImageOptions
from providers.base import ModelInfo
from providers.errors import UnsupportedParameter, UpstreamError
from providers.images import sniff_format

if TYPE_CHECKING:
    pass

__all__ = [
    "GPT_IMAGE_MODELS",
    "OPENAI_IMAGE_MODELS",
    "PLAIN",
    "Output",
    "check_background",
    "encode_as",
    "output_of",
    "reported_quality",
]

#: openai-python ``types/image_model.py``: the names GPT-image apps send.
GPT_IMAGE_MODELS = frozenset(
    {
        "gpt-image-1",
        "gpt-image-1-mini",
        "gpt-image-1.5",
        "gpt-image-2",
        "gpt-image-2-2026-04-21",
        "gpt-image-2.5-sunburst",
        "gpt-image-2.5-sunburst-2026-09-08",
        "gpt-image-2.5-flare",
        "gpt-image-2.5-flare-2026-09-08",
        "gpt-image-2.6-sunburst",
        "gpt-image-2.6-flare",
        "chatgpt-image-latest",
    }
)
#: Every OpenAI image model name: these take masks at OpenAI.
OPENAI_IMAGE_MODELS = GPT_IMAGE_MODELS | {"dall-e-2", "dall-e-3"}
#: The file formats the models here make; anything else is a re-encoding.
MADE_AS = "png"
#: Re-encoding decodes the whole image: past this many pixels it is not an image we made.
_MAX_PIXELS = 8192 * 8192


@dataclass(frozen=True, slots=True)
class Output:
    """What the answer looks like, beyond the images themselves."""

    #: Answered as GPT-image models answer (b64_json default, echoed fields).
    gpt: bool = False
    #: The file format asked for; None: as the model made it.
    format: str | None = None
    compression: int | None = None
    background: str | None = None
    #: Server-sent events instead of one JSON answer.
    stream: bool = False
    #: ``url`` or ``b64_json``.
    response_format: str = "url"

    @property
    def answer_format(self) -> str:
        return self.format or MADE_AS


#: DALL-E's answer: what routes without GPT-image parameters (chat) give.
PLAIN = Output()


def _gpt_only(req: ImageOptions) -> bool:
    fields = (req.output_format, req.output_compression, req.background, req.moderation, req.partial_images)
    fidelity = req.input_fidelity if isinstance(req, EditRequest) else None
    return req.stream is True or fidelity is not None or any(value is not None for value in fields)


def output_of(req: ImageOptions, model: str | None = None) -> Output:
    """The answer's shape. Raises 400 for a format a ``url`` cannot be.

    ``model``: the name the client sent, when it is not ``req.model`` (a tool's model).
    """
    sent = (model if model is not None else req.model) or ""
    gpt = sent.strip() in GPT_IMAGE_MODELS or _gpt_only(req)
    stream = req.stream is True
    response_format = "b64_json" if stream else req.response_format or ("b64_json" if gpt else "url")
    if response_format == "url" and req.output_format not in (None, MADE_AS):
        raise UnsupportedParameter(
            f"output_format {req.output_format!r} needs response_format 'b64_json': "
            f"a url answer is the provider's own file, a {MADE_AS.upper()}",
            param="output_format",
        )
    return Output(gpt, req.output_format, req.output_compression, req.background, stream, response_format)


def check_background(output: Output, info: ModelInfo) -> None:
    if output.background == "transparent" and not info.output_alpha:
        raise UnsupportedParameter(
            f"background 'transparent' is not supported by '{info.id}': it makes opaque images",
            param="background",
        )


def encode_as(blob: bytes, fmt: str, compression: int | None) -> bytes:
    """The image in ``fmt`` (png, jpeg, webp), re-encoded only when it is not already so."""
    from PIL import Image

    pillow = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
    if sniff_format(blob) == pillow and (compression is None or fmt == "png"):
        return blob
    try:
        with Image.open(io.BytesIO(blob)) as image:
            if image.width * image.height > _MAX_PIXELS:
                raise UpstreamError("The upstream's image is too large to re-encode", retryable=False)
            image.load()
            converted = image.convert("RGB") if fmt == "jpeg" and image.mode != "RGB" else image
            out = io.BytesIO()
            # OpenAI's output_compression is a quality: 100 is the least compressed.
            quality = 100 if compression is None else max(1, compression)
            options = {"quality": quality} if fmt != "png" else {}
            converted.save(out, pillow, **options)
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError):
        raise UpstreamError("The upstream's image could not be read to re-encode it", retryable=False) from None


def reported_quality(asked: str | None, size: tuple[int, int] | None) -> str:
    """``quality`` as GPT-image answers report it (low, medium or high): as asked, else by the pixels made."""
    if asked in ("low", "medium", "high"):
        return asked
    if asked == "hd":
        return "high"
    if size is None:
        return "medium"
    pixels = size[0] * size[1]
    return "low" if pixels < 768 * 768 else "medium" if pixels < 1536 * 1536 else "high"
