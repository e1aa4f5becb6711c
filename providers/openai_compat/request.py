"""Image requests for an OpenAI-compatible upstream: ``/images/*`` or ``/chat/completions``."""

from __future__ import annotations

from typing import Any

import msgspec

from providers.base import HttpRequest, ImageSpec, UpstreamCall
from providers.errors import TOO_DEEP, InvalidRequest
from providers.sizes import DIMENSIONS, TOKEN_SIDES

__all__ = ["chat_call", "images_call", "proxy_request", "size_param"]

_JSON = {"Content-Type": "application/json"}


def size_param(raw: str | None) -> str | None:
    """``WxH`` as OpenAI spells it (``W*H`` is rewritten), a 1K/2K/4K token, or None for auto."""
    if raw is None or not raw.strip() or raw.strip().lower() == "auto":
        return None
    text = raw.strip()
    if text.upper() in TOKEN_SIDES:
        return text.upper()
    match = DIMENSIONS.match(text)
    if match is None or int(match.group(1)) <= 0 or int(match.group(2)) <= 0:
        raise InvalidRequest(
            f"Invalid size {raw!r}: use 'WIDTHxHEIGHT' (e.g. '1024x1024') or 'auto'.", param="size", code="invalid_size"
        )
    return f"{int(match.group(1))}x{int(match.group(2))}"


def _options(spec: ImageSpec) -> dict[str, Any]:
    """The request fields every style shares; client extras pass through to the upstream as they came."""
    body: dict[str, Any] = {**spec.extras, "n": spec.n}
    size = size_param(spec.size)
    if size is not None:
        body["size"] = size
    if spec.quality:
        body["quality"] = spec.quality
    if spec.style:
        body["style"] = spec.style
    return body


#: An inline (base64) image may be as large as a downloaded one (64 MiB) plus a third.
_INLINE_IMAGE_BYTES = 88 * 1024 * 1024


#: Chat answers may inline images too (OpenRouter's ``message.images``); ``n`` past this is the upstream's problem.
MAX_PROXIED_N = 10


def _answer_limit(n: int) -> int:
    return max(1, n) * _INLINE_IMAGE_BYTES


def images_call(base_url: str, model: str, spec: ImageSpec) -> UpstreamCall:
    """``/images/generations``, or ``/images/edits`` with a JSON body when there are input images.

    Edits use OpenAI's JSON edit shape (``images: [{"image_url": ...}]``) so URLs and
    data URIs travel as they are instead of being re-uploaded as multipart files.
    """
    body: dict[str, Any] = {"model": model, "prompt": spec.prompt, **_options(spec)}
    path = "/images/generations"
    if spec.images:
        path = "/images/edits"
        body["images"] = [{"image_url": image} for image in spec.images]
    request = HttpRequest("POST", f"{base_url}{path}", _JSON, msgspec.json.encode(body), _answer_limit(spec.n))
    return UpstreamCall(request, n=spec.n, size=body.get("size"))


def chat_call(base_url: str, model: str, spec: ImageSpec) -> UpstreamCall:
    """``/chat/completions``: the prompt as a user message, and a top-level ``size`` as image chat servers take it."""
    content: list[dict[str, Any]] = [{"type": "text", "text": spec.prompt}]
    content += [{"type": "image_url", "image_url": {"url": image}} for image in spec.images]
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        # OpenRouter's convention; servers that make images unasked ignore it.
        "modalities": ["image", "text"],
        "stream": False,
        **_options(spec),
    }
    request = HttpRequest(
        "POST", f"{base_url}/chat/completions", _JSON, msgspec.json.encode(body), _answer_limit(spec.n)
    )
    return UpstreamCall(request, n=spec.n)


def proxy_request(
    base_url: str, model: str, body: bytes, *, stream: bool, resource: str = "chat/completions"
) -> HttpRequest:
    """A client's body for the upstream's ``resource``, with the model renamed to the upstream's name."""
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise InvalidRequest("The request body is not valid JSON") from None
    except RecursionError:
        raise InvalidRequest(TOO_DEEP) from None
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object")
    if payload.get("model") != model:
        payload["model"] = model
        body = msgspec.json.encode(payload)
    headers = {**_JSON, "Accept": "text/event-stream" if stream else "application/json"}
    n = payload.get("n")
    images = min(n, MAX_PROXIED_N) if isinstance(n, int) and n > 0 else 1
    return HttpRequest("POST", f"{base_url}/{resource}", headers, body, _answer_limit(images))
