"""The seam between the gateway and provider adapters.

An adapter is pure translation: a normalised request in, HTTP request
descriptions out; HTTP responses in, images (or a task to poll) out. It does no
I/O, sleeps nowhere and reads no environment, so it is testable without a
network. The gateway's engine owns sending, retries, polling and deadlines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "GeneratedImage",
    "HttpRequest",
    "HttpResponse",
    "ImageAdapter",
    "ImageBatch",
    "ImageSpec",
    "ModelInfo",
    "TaskRef",
    "TokenUsage",
    "UpstreamCall",
]


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """A provider-neutral image request, already decoded from the OpenAI shape."""

    prompt: str
    n: int = 1
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    #: Provider extras sent by clients via ``extra_body`` (negative_prompt, seed, ...).
    extras: Mapping[str, Any] = field(default_factory=dict)
    #: Reference images (URLs or data: URIs), in order.
    images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def __repr__(self) -> str:
        # Bodies may hold prompts and images; headers are kept out for the same reason.
        return f"HttpRequest({self.method} {self.url})"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:
        return f"HttpResponse({self.status}, {len(self.body)} bytes)"


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One upstream call the engine must make for a request."""

    request: HttpRequest
    #: Images this call should produce (after fan-out of a large ``n``).
    n: int
    #: An async submit: re-sending it after an ambiguous failure could bill twice.
    creates_task: bool = False


@dataclass(frozen=True, slots=True)
class TaskRef:
    task_id: str
    upstream_request_id: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    url: str
    revised_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ImageBatch:
    images: tuple[GeneratedImage, ...]
    #: Actual output size (width, height) when the upstream reports it.
    size: tuple[int, int] | None = None
    usage: TokenUsage | None = None
    upstream_request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the gateway may know about a model, for routing and listing."""

    id: str
    upstream_name: str
    max_n: int
    modes: tuple[str, ...]
    size_rule: str


class ImageAdapter(Protocol):
    """Translation for one provider instance (its base URL and region are fixed)."""

    def resolve(self, model: str) -> ModelInfo | None:
        """The model as offered by this provider, or None when it is not offered."""

    def models(self) -> list[ModelInfo]:
        """Every model this provider offers."""

    def generation_calls(self, model: str, spec: ImageSpec) -> list[UpstreamCall]:
        """Upstream calls that together produce ``spec.n`` images, in order."""

    def parse_result(self, call: UpstreamCall, response: HttpResponse) -> ImageBatch | TaskRef:
        """An answer to a call: images, or a task to poll. Raises ApiError."""

    def poll_request(self, task: TaskRef) -> HttpRequest:
        """The request that reads a task's state."""

    def parse_poll(self, call: UpstreamCall, task: TaskRef, response: HttpResponse) -> ImageBatch | None:
        """Images once the task is done, None while it runs. Raises ApiError."""

    def download_allowed(self, url: str) -> bool:
        """Whether the gateway may fetch this result URL (SSRF guard)."""
