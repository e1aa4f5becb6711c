"""DashScope SSE framing: ``id:N``, ``event:result|error``, ``:HTTP_STATUS/N``, data."""

from __future__ import annotations

import msgspec

from .errors import EmuError
from .plan import Slot, successes
from .responses import Links, step_text, sync_output, sync_usage
from .rules import Shape
from .validation import Job
from .wire import Choice, ContentOut, ErrorBody, MessageOut, SyncOutput, SyncResponse

_encode = msgspec.json.encode


def frame(index: int, event: str, status: int, data: bytes) -> bytes:
    return b"id:%d\nevent:%s\n:HTTP_STATUS/%d\ndata:%s\n\n" % (index, event.encode(), status, data)


def error_frame(err: EmuError, request_id: str, index: int = 1) -> bytes:
    return frame(index, "error", err.status, _encode(ErrorBody(err.code, err.message, request_id)))


def result_frames(job: Job, slots: tuple[Slot, ...], links: Links, request_id: str) -> list[bytes]:
    """Wan models send one frame per image (interleave: a text frame before each); qwen models one frame.

    Only the last frame has ``finished: true`` and ``finish_reason: "stop"``.
    """
    if job.rule.shape is Shape.QWEN:
        output = sync_output(job, slots, links, finished=True)
        body = SyncResponse(output, sync_usage(job, len(successes(slots))), request_id)
        return [frame(1, "result", 200, _encode(body))]
    pieces: list[ContentOut] = []
    for step, (i, spec) in enumerate(successes(slots), start=1):
        if job.interleave:
            pieces.append(step_text(job, step))
        pieces.append(ContentOut(image=links.url(i, spec), type="image"))
    frames: list[bytes] = []
    images = 0
    for index, piece in enumerate(pieces, start=1):
        last = index == len(pieces)
        images += piece.image is not None
        output = SyncOutput(
            choices=[Choice("stop" if last else "null", MessageOut("assistant", [piece]))], finished=last
        )
        frames.append(frame(index, "result", 200, _encode(SyncResponse(output, sync_usage(job, images), request_id))))
    return frames
