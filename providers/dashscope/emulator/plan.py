"""What a generation produces: one slot per image, either an image or a per-image failure."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from .errors import MSG_INTERNAL, MSG_TIMEOUT
from .results import ImageSpec
from .validation import Job

# A small palette keeps the PNG cache effective while neighbouring images still differ.
PALETTE: tuple[int, ...] = (
    0x4E79A7,
    0xF28E2B,
    0xE15759,
    0x76B7B2,
    0x59A14F,
    0xEDC948,
    0xB07AA1,
    0xFF9DA7,
    0x9C755F,
    0xBAB0AC,
    0x1F77B4,
    0x2CA02C,
    0xD62728,
    0x9467BD,
    0x8C564B,
    0x17BECF,
)


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    message: str


Slot = ImageSpec | Failure


def plan_slots(job: Job) -> tuple[Slot, ...]:
    faults = job.faults
    mode = "_broken" if faults.has("broken-url") else "_html" if faults.has("html-url") else ""
    base = zlib.crc32(job.prompt.encode())
    images: list[Slot] = [
        ImageSpec(job.width, job.height, PALETTE[(base + i) % len(PALETTE)], mode) for i in range(job.count)
    ]
    if faults.has("all-failed"):
        return tuple(Failure("InternalError", MSG_INTERNAL) for _ in images)
    if faults.has("partial"):
        return (images[0], *(Failure("InternalError.Timeout", MSG_TIMEOUT) for _ in images[1:]))
    return tuple(images)


def successes(slots: tuple[Slot, ...]) -> list[tuple[int, ImageSpec]]:
    return [(i, slot) for i, slot in enumerate(slots) if isinstance(slot, ImageSpec)]
