"""RGB PNGs built from bands of identical rows, encoded cheaply.

A picture of W by H is given as ``(row, count)`` bands: the first row of a band is stored as is (filter 0),
the rest use PNG filter 2 ("Up") so they are all zero bytes. Runs of zero rows are never deflated per image:
each is a sum of cached pieces of 2**j zero rows, every piece deflated once after a full flush (which resets
the compressor, so a piece is valid anywhere after another full flush), and the zlib Adler-32 of zero rows is
advanced arithmetically. A 4096*4096 picture with a few dozen distinct rows so costs milliseconds instead of
deflating 48 MB.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from functools import lru_cache

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ADLER_MOD = 65521
_PIECE_BYTES = 1 << 20  # the largest cached zero piece; bigger runs repeat it
_LEVEL = 6


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _packer() -> zlib._Compress:
    return zlib.compressobj(_LEVEL, zlib.DEFLATED, -15, 9)


def _adler_zero_rows(adler: int, row_len: int, rows: int) -> int:
    """Adler-32 continued over ``rows`` rows of one 0x02 filter byte followed by ``row_len - 1`` zeros."""
    a, b = adler & 0xFFFF, adler >> 16
    for _ in range(rows):
        b = (b + row_len * a + 2 * row_len) % _ADLER_MOD  # the 0x02 byte is weighted by the whole row
        a = (a + 2) % _ADLER_MOD
    return (b << 16) | a


@lru_cache(maxsize=256)
def _zero_piece(row_len: int, rows: int) -> bytes:
    """``rows`` filter-2 zero rows as raw deflate blocks that end on a full flush."""
    packer = _packer()
    return packer.compress((b"\x02" + bytes(row_len - 1)) * rows) + packer.flush(zlib.Z_FULL_FLUSH)


def _zero_run(row_len: int, rows: int) -> bytes:
    per_piece = 1 << max(0, (_PIECE_BYTES // row_len).bit_length() - 1)
    whole, rest = divmod(rows, per_piece)
    parts = [_zero_piece(row_len, per_piece) * whole]
    parts += [_zero_piece(row_len, 1 << j) for j in range(rest.bit_length()) if rest >> j & 1]
    return b"".join(parts)


def encode_png(width: int, bands: Sequence[tuple[bytes, int]]) -> bytes:
    """A PNG of ``width`` by the sum of the counts; each band is one RGB row (``3 * width`` bytes) repeated."""
    row_len = 3 * width + 1
    packer = _packer()
    parts: list[bytes] = []
    adler = 1
    for row, count in bands:
        if len(row) != row_len - 1 or count < 1:
            raise ValueError("a band is one full RGB row repeated at least once")
        first = b"\x00" + row
        parts.append(packer.compress(first))
        adler = zlib.adler32(first, adler)
        if count > 1:
            parts += [packer.flush(zlib.Z_FULL_FLUSH), _zero_run(row_len, count - 1)]
            adler = _adler_zero_rows(adler, row_len, count - 1)
    parts.append(packer.flush(zlib.Z_FINISH))
    idat = b"\x78\x9c" + b"".join(parts) + struct.pack(">I", adler)
    height = sum(count for _, count in bands)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
