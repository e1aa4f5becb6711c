"""providers.images: magic bytes, limits, alpha flattening, data URIs; pure, no network."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from providers.base import ModelInfo
from providers.errors import InvalidRequest
from providers.images import (
    ImageLimits,
    decode_data_uri,
    flatten_alpha,
    inspect_image,
    prepare_image,
    sniff_format,
    to_data_uri,
)

MB = 1024 * 1024
LIMITS = ImageLimits(max_bytes=10 * MB)


def make(width: int, height: int, fmt: str = "PNG", mode: str = "RGB", color: object = (10, 20, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, fmt)  # type: ignore[arg-type]
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 16))


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("PNG", "PNG"), ("JPEG", "JPEG"), ("WEBP", "WEBP"), ("BMP", "BMP"), ("GIF", None), ("TIFF", None)],
)
def test_sniff_format_by_magic_bytes(fmt: str, expected: str | None) -> None:
    assert sniff_format(make(300, 300, fmt)) == expected


def test_sniff_rejects_lookalikes() -> None:
    assert sniff_format(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
    assert sniff_format(b"") is None


@pytest.mark.parametrize(
    ("mode", "fmt", "alpha"),
    [("RGB", "PNG", False), ("RGBA", "PNG", True), ("LA", "PNG", True), ("L", "JPEG", False), ("RGBA", "WEBP", True)],
)
def test_inspect_reads_size_and_alpha(mode: str, fmt: str, alpha: bool) -> None:
    color = {"RGB": (1, 2, 3), "RGBA": (1, 2, 3, 4), "LA": (1, 2), "L": 1}[mode]
    image = inspect_image(make(320, 240, fmt, mode, color), label="image 1")
    assert (image.format, image.width, image.height, image.has_alpha) == (fmt, 320, 240, alpha)


def test_palette_transparency_counts_as_alpha() -> None:
    out = io.BytesIO()
    Image.new("P", (300, 300), 0).save(out, "PNG", transparency=0)
    assert inspect_image(out.getvalue(), label="x").has_alpha


def test_truncated_or_fake_images_are_400s() -> None:
    for data in (b"BM this is text", make(300, 300)[:20], b"\xff\xd8\xff" + b"\x00" * 10):
        with pytest.raises(InvalidRequest) as info:
            inspect_image(data, label="image 2", param="messages")
        assert info.value.param == "messages" and "image 2" in info.value.message


def test_a_header_claiming_billions_of_pixels_is_refused_without_decoding() -> None:
    with pytest.raises(InvalidRequest) as info:
        inspect_image(png_header_only(100_000, 100_000), label="image 1")
    assert "pixels" in info.value.message


@pytest.mark.parametrize(
    ("size", "why"),
    [
        ((239, 500), "each side"),
        ((8001, 1100), "each side"),
        ((2000, 240), "width/height"),
        ((300, 2500), "width/height"),
    ],
)
def test_limits_on_sides_and_ratio(size: tuple[int, int], why: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        prepare_image(make(*size), LIMITS, label="image 1")
    assert why in info.value.message and info.value.param == "image" and info.value.code == "invalid_image"


def test_the_byte_limit_is_checked_first() -> None:
    with pytest.raises(InvalidRequest) as info:
        prepare_image(b"\x89PNG\r\n\x1a\n" + bytes(2 * MB), ImageLimits(max_bytes=MB), label="image 3")
    assert "bytes" in info.value.message


def test_limits_of_a_model() -> None:
    info = ModelInfo(
        "m",
        "m",
        4,
        ("sync",),
        "",
        images=(0, 9),
        image_max_bytes=20 * MB,
        image_side=(384, 5000),
        image_ratio=(0.25, 4.0),
        image_alpha=False,
    )
    assert ImageLimits.of(info) == ImageLimits(20 * MB, 384, 5000, 0.25, 4.0, False)


def test_alpha_is_flattened_onto_white_only_when_the_model_rejects_it() -> None:
    image = Image.new("RGBA", (300, 300), (255, 0, 0, 255))
    image.putpixel((0, 0), (0, 0, 0, 0))  # fully transparent
    out = io.BytesIO()
    image.save(out, "PNG")
    kept = prepare_image(out.getvalue(), LIMITS, label="image 1")
    assert kept.has_alpha and kept.data == out.getvalue()
    flat = prepare_image(out.getvalue(), ImageLimits(max_bytes=10 * MB, alpha=False), label="image 1")
    assert (flat.format, flat.has_alpha) == ("PNG", False)
    with Image.open(io.BytesIO(flat.data)) as decoded:
        assert decoded.mode == "RGB"
        assert decoded.getpixel((0, 0)) == (255, 255, 255)
        assert decoded.getpixel((10, 10)) == (255, 0, 0)


def test_a_truncated_image_that_must_be_flattened_is_a_400() -> None:
    whole = make(400, 400, "PNG", "RGBA", (1, 2, 3, 4))
    with pytest.raises(InvalidRequest) as info:
        prepare_image(whole[: len(whole) // 2], ImageLimits(max_bytes=MB, alpha=False), label="image 1")
    assert "incomplete" in info.value.message and info.value.param == "image"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_a_cut_off_file_is_caught_and_a_whole_one_passes(fmt: str, mode: str) -> None:
    if mode == "RGBA" and fmt == "JPEG":
        return
    whole = make(300, 260, fmt, mode)
    assert inspect_image(whole, label="image 1").format == fmt
    for keep in (len(whole) - 1, len(whole) * 9 // 10, len(whole) // 2, 60):
        with pytest.raises(InvalidRequest) as info:
            inspect_image(whole[:keep], label="image 1")
        assert info.value.code == "invalid_image", keep


def test_whole_files_with_quirks_pass() -> None:
    jpeg = make(300, 260, "JPEG") + b"\x00\x00"  # padding after the end marker, as some cameras write
    assert inspect_image(jpeg, label="image 1").format == "JPEG"
    bmp = bytearray(make(300, 260, "BMP"))
    bmp[2:6] = b"\x00\x00\x00\x00"  # no file size in the header, as some writers leave it
    assert inspect_image(bytes(bmp), label="image 1").format == "BMP"


def test_flattening_falls_back_to_jpeg_when_png_is_too_big() -> None:
    noise = Image.frombytes("RGBA", (400, 400), bytes(range(256)) * 2500)
    out = io.BytesIO()
    noise.save(out, "PNG")
    source = inspect_image(out.getvalue(), label="x")
    flat = flatten_alpha(source, max_bytes=len(out.getvalue()) // 4)
    assert flat.format == "JPEG" and flat.mime == "image/jpeg"


def test_data_uris_round_trip_and_bad_ones_are_400s() -> None:
    data = make(300, 300)
    image = inspect_image(data, label="x")
    uri = to_data_uri(image)
    assert uri.startswith("data:image/png;base64,")
    assert decode_data_uri(uri, label="x") == data
    assert decode_data_uri("data:;base64," + base64.b64encode(b"abc").decode(), label="x") == b"abc"
    for bad in ("data:image/png,abc", "data:image/png;base64,@@@", "nope"):
        with pytest.raises(InvalidRequest) as info:
            decode_data_uri(bad, label="image 1", param="image")
        assert info.value.param == "image"
