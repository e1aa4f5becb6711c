"""What a generation produces: one slot per image, either an image or a per-image failure."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from .errors import MSG_INTERNAL, MSG_TIMEOUT
from .results import MODEL_CHARS, PROMPT_CHARS, ImageSpec
from .validation import Job


@dataclass(frozen=True, slots=True)
class Failure:
    code: str
    message: str


Slot = ImageSpec | Failure


def key_colour(job: Job, index: int) -> int:
    """0xRRGGBB from the whole request: it seeds the picture, so prompts alike in their first characters
    (all the caption shows) still differ, as do the n images of one request."""
    text = f"{job.model}\0{job.prompt}\0{job.seed}\0{index}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=3).digest(), "big")


def plan_slots(job: Job) -> tuple[Slot, ...]:
    faults = job.faults
    mode = "_broken" if faults.has("broken-url") else "_html" if faults.has("html-url") else ""
    model, prompt = fold_text(job.model, MODEL_CHARS), fold_text(job.prompt_used, PROMPT_CHARS)
    images: list[Slot] = [
        ImageSpec(job.width, job.height, key_colour(job, i), mode, model, prompt, job.seed) for i in range(job.count)
    ]
    if faults.has("all-failed"):
        return tuple(Failure("InternalError", MSG_INTERNAL) for _ in images)
    if faults.has("partial"):
        return (images[0], *(Failure("InternalError.Timeout", MSG_TIMEOUT) for _ in images[1:]))
    return tuple(images)


def successes(slots: tuple[Slot, ...]) -> list[tuple[int, ImageSpec]]:
    return [(i, slot) for i, slot in enumerate(slots) if isinstance(slot, ImageSpec)]


def fold_text(text: str, limit: int) -> str:
    """``text`` as at most ``limit`` printable ASCII characters: accents dropped, other letters ``?``."""
    out: list[str] = []
    for char in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(char):
            continue
        if char.isspace():
            char = " "
        elif not (" " <= char <= "~"):
            char = "?"
        if char == " " and (not out or out[-1] == " "):
            continue
        out.append(char)
        if len(out) == limit:
            break
    return "".join(out).rstrip()
