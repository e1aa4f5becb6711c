"""The seam between the gateway and provider adapters.

An adapter is pure translation: a normalised request in, HTTP request
descriptions out; HTTP responses in, images (or a task to poll) out. It does no
I/O, sleeps nowhere and reads no environment, so it is testable without a
network. The gateway's engine owns sending, retries, polling and deadlines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from providers.errors import ApiError

__all__ = [
    "Billing",
    "ChatProxy",
    "Cost",
    "GeneratedImage",
    "HttpRequest",
    "HttpResponse",
    "ImageAdapter",
    "ImageBatch",
    "ImageSpec",
    "KeyProber",
    "ModelInfo",
    "Pricer",
    "TaskCanceller",
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
    #: The area to edit of the (one) reference image, as a data: URI of an RGB PNG of the
    #: same size: white = edit, black = keep (an OpenAI mask, translated).
    mask: str | None = None


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    #: The largest answer this call may get, when it differs from the engine's default
    #: (inline base64 images make some answers large; most are a few KB of JSON).
    max_response_bytes: int | None = None

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

    @property
    def retry_after(self) -> float | None:
        """The ``Retry-After`` header in seconds, when it is a number."""
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    @property
    def key_status(self) -> str:
        """What this answer to a key probe says: the key was refused, taken, or nothing."""
        return "invalid" if self.status in (401, 403) else "valid" if self.status < 500 else "unreachable"


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One upstream call the engine must make for a request."""

    request: HttpRequest
    #: Images this call should produce (after fan-out of a large ``n``).
    n: int
    #: An async submit: re-sending it after an ambiguous failure could bill twice.
    creates_task: bool = False
    #: The answer's text is the prompt the model used (returned as revised_prompt).
    revised_prompt: bool = False
    #: The size the call asks for, in the upstream's own terms ("1024*1024", "2K"), if any.
    size: str | None = None


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
class Billing:
    """What the upstream says it billed: images made, their price tier, input images."""

    images: int
    tier: str | None = None
    input_images: int = 0


@dataclass(frozen=True, slots=True)
class Cost:
    amount: float
    currency: str
    #: True: a documented price; False: an estimate (a third party's figure).
    documented: bool = False


@dataclass(frozen=True, slots=True)
class ImageBatch:
    images: tuple[GeneratedImage, ...]
    #: Actual output size (width, height) when the upstream reports it.
    size: tuple[int, int] | None = None
    usage: TokenUsage | None = None
    upstream_request_id: str | None = None
    billing: Billing | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the gateway may know about a model, for routing and listing."""

    id: str
    upstream_name: str
    max_n: int
    modes: tuple[str, ...]
    size_rule: str
    #: The provider's documented limits for this model: submits per second and
    #: concurrent tasks (None = no documented limit). The engine paces to them.
    rps: float | None = None
    concurrency: int | None = None
    #: "image", or "chat" for a text model an OpenAI-compatible provider serves
    #: (its chat calls are proxied; it makes no images).
    kind: str = "image"
    #: Input (reference) images a request may carry, [min, max]; (0, 0): text-to-image only.
    images: tuple[int, int] = (0, 0)
    #: Limits per input image: bytes, pixels per side, width/height, and whether
    #: the model takes an alpha channel (the gateway flattens it when not).
    image_max_bytes: int = 10 * 1024 * 1024
    image_side: tuple[int, int] = (240, 8000)
    image_ratio: tuple[float, float] = (0.125, 8.0)
    image_alpha: bool = True
    #: How ``size: auto`` is sent when there are input images: "token" (the model's
    #: 1K/2K, chosen by quality), "ratio" (the last input's aspect ratio, sent as
    #: W x H) or "omit" (nothing: the model decides).
    auto_size: str = "omit"
    size_tokens: tuple[str, ...] = ()
    #: The size rule with input images, in words ("" when it is ``size_rule``).
    edit_size_rule: str = ""
    #: Resolution tokens (1K, 2K) a generation's size may be; ``quality`` low/medium/high picks one.
    generation_tokens: tuple[str, ...] = ()
    #: Whether the model can make images with an alpha channel (``background: transparent``).
    output_alpha: bool = False
    #: Whether the model takes a mask of the area to edit (ImageSpec.mask).
    masks: bool = False
    #: The provider parameters (``extra_body``) the model takes.
    options: tuple[str, ...] = ()

    @property
    def edits(self) -> bool:
        """Whether the model takes input images (image edits, references in chat)."""
        return self.images[1] > 0


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


@runtime_checkable
class KeyProber(Protocol):
    """Adapters that can tell, at no cost, whether the provider accepts a key."""

    def key_probe(self) -> HttpRequest:
        """A request that succeeds with a valid key and costs nothing."""

    def key_probe_result(self, response: HttpResponse) -> str:
        """ "valid" or "invalid" from the probe's answer ("unreachable" is the engine's call)."""

    def key_warning(self, key: str) -> str | None:
        """A warning about the key's kind (e.g. one that cannot serve images), or None."""


@runtime_checkable
class Pricer(Protocol):
    """Adapters that know their models' prices: an estimate of what a batch cost."""

    def estimate(self, model: str, batch: ImageBatch) -> Cost | None:
        """The batch's cost from what the upstream billed, or None when no price is known."""


@runtime_checkable
class ChatProxy(Protocol):
    """Adapters whose upstream also serves chat models, proxied to it as they are."""

    def chat_request(self, model: str, body: bytes, *, stream: bool, resource: str = "chat/completions") -> HttpRequest:
        """The upstream request for a client's body (``model`` is the upstream name) to
        ``resource``: ``chat/completions`` or ``responses``."""

    def chat_error(self, response: HttpResponse) -> ApiError:
        """The error for an upstream chat answer with an error status."""


@runtime_checkable
class TaskCanceller(Protocol):
    """Adapters whose provider can cancel a submitted task (DashScope: only while queued)."""

    def cancel_request(self, task: TaskRef) -> HttpRequest: ...

    def cancelled(self, response: HttpResponse) -> bool:
        """Whether the cancel request took effect."""
