"""Streamed images (``stream: true`` on generations and edits), as OpenAI's image streams send them.

The provider makes no previews, so no ``partial_image`` event is sent (a final image
is never relabelled as a partial): the stream is a keep-alive comment every 10 s
while the images are made, then one ``<kind>.completed`` event per image, in order.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from litestar.response import Stream

from gateway.http.sse import event, typed_error_event, work_events
from gateway.routes.run import event_stream
from gateway.service.images import ImageService, Served
from gateway.service.plan import Plan
from gateway.wire.images import NO_USAGE, ImageStreamCompleted

__all__ = ["image_stream"]


def completed_events(served: Served, kind: str) -> list[bytes]:
    response = served.response
    name = f"{kind}.completed"
    last = len(response.data) - 1
    return [
        event(
            ImageStreamCompleted(
                type=name,
                b64_json=image.b64_json or "",
                created_at=response.created,
                size=response.size or "auto",
                quality=response.quality or "auto",
                background=response.background or "opaque",
                output_format=response.output_format or "png",
                # The request's usage once, on its last image, so that adding them up is right.
                usage=(response.usage or NO_USAGE) if index == last else NO_USAGE,
            ),
            name,
        )
        for index, image in enumerate(response.data)
    ]


def image_stream(service: ImageService, plan: Plan, kind: str) -> Stream:
    """``kind``: ``image_generation`` or ``image_edit``."""

    def work() -> Coroutine[Any, Any, Served]:
        return service.run(plan)

    body = work_events(work, (), lambda served: completed_events(served, kind), on_error=typed_error_event)
    return event_stream(body, plan.routes[0])
