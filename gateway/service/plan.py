"""One image request, planned once: its targets, its ImageSpec, each target's upstream calls.

Every image route (generations, edits, chat; served now, as a job or as a stream)
describes what the client asked for as an :class:`ImageAsk` and gets a :class:`Plan`
from :func:`plan_images`. The plan picks the targets once (a weighted route picks at
random), checks the request against the first target (so a bad request is a 400
while it can still be one) and builds each target's upstream calls at most once:
fallback, jobs and streams reuse them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from gateway.service.ask import ExtrasSource, ImageAsk, provider_fields
from gateway.service.masks import translate_mask
from gateway.service.output import OPENAI_IMAGE_MODELS, Output, check_background
from gateway.service.references import Reference, check_count, prepare_references, require_edits
from gateway.service.specs import auto_size, check_n, check_prompt, is_auto, quality_token
from gateway.wire.decode import convert_form, decode_request
from providers.base import ImageSpec, ModelInfo, UpstreamCall
from providers.errors import InvalidRequest, UnsupportedParameter
from providers.images import decode_data_uri
from providers.kind import extras_of

if TYPE_CHECKING:
    from gateway.service.images import ImageService
    from gateway.service.routing import Route

__all__ = ["ImageAsk", "Plan", "plan_images"]


class Plan:
    """The targets of one request, in the order they are tried, and what each is sent."""

    __slots__ = ("_calls", "_extras", "name", "output", "requested", "routes", "spec")

    def __init__(
        self,
        requested: str | None,
        name: str,
        spec: ImageSpec,
        routes: Sequence[Route],
        extras: dict[type[msgspec.Struct], dict[str, Any]],
        output: Output,
    ) -> None:
        self.requested = requested
        self.name = name
        #: As sent to the first target (its kind's extras).
        self.spec = spec
        self.output = output
        self.routes = tuple(routes)
        self._extras = extras
        self._calls: dict[int, list[UpstreamCall]] = {}

    def __repr__(self) -> str:
        return f"Plan({self.name!r}, {list(self.routes)})"

    def spec_at(self, index: int) -> ImageSpec:
        extras = self._extras[self.routes[index].target.extras]
        return self.spec if extras == self.spec.extras else dataclasses.replace(self.spec, extras=extras)

    def calls(self, index: int) -> list[UpstreamCall]:
        """The upstream calls for the index-th target, built the first time they are asked for."""
        calls = self._calls.get(index)
        if calls is None:
            route = self.routes[index]
            calls = self._calls[index] = route.target.adapter.generation_calls(route.model.id, self.spec_at(index))
        return calls


def _inline(ref: Reference, param: str) -> bytes:
    if ref.data is not None:
        return ref.data
    uri = (ref.uri or "").strip()
    if not uri.startswith("data:"):
        raise InvalidRequest(
            f"With a mask, send {ref.label} as a file or a data: URI: its pixels are needed here", param=param
        )
    return decode_data_uri(uri, label=ref.label, param=param)


async def _masked(
    service: ImageService, info: ModelInfo, name: str, refs: Sequence[Reference], mask: Reference
) -> tuple[tuple[str, ...], str]:
    """The one input image and its translated mask. 400 when the model takes no mask."""
    if not info.masks:
        able = sorted({m.id for t in service.router.targets.values() for m in t.adapter.models() if m.masks})
        models = ", ".join(able) or "none is configured"
        raise UnsupportedParameter(
            f"Model '{name}' takes no mask. Models that do: {models}; or describe the region in the prompt",
            param="mask",
        )
    check_count(info, name, len(refs), "image")
    image, mask_bytes = _inline(refs[0], "image"), _inline(mask, "mask")
    masked = await service.image_workers.run(translate_mask, image, mask_bytes, info.image_side, info.image_max_bytes)
    return (masked.image,), masked.mask


def _form_extras(fields: Mapping[str, Any], type_: type[msgspec.Struct]) -> dict[str, Any]:
    """Form fields for ``type_``: JSON text where a list or an object is wanted."""
    names = set(type_.__struct_fields__)
    out: dict[str, Any] = {}
    for key, value in fields.items():
        base = key.split("[", 1)[0]
        if base not in names:
            continue
        if key != base:
            # The SDKs flatten nested extra_body values in multipart bodies (bbox_list[][][]=1),
            # losing their structure: refused rather than read wrongly or dropped.
            raise InvalidRequest(
                f"'{base}' cannot be read from a multipart field {key!r}: send it as a JSON string "
                "(json.dumps(...)) or send a JSON body",
                param=base,
            )
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            try:
                value = msgspec.json.decode(value)
            except msgspec.DecodeError:
                raise InvalidRequest(f"'{base}' is not valid JSON", param=base) from None
        out[key] = value
    return out


def _extras(fields: ExtrasSource, type_: type[msgspec.Struct]) -> dict[str, Any]:
    if isinstance(fields, bytes):
        return extras_of(decode_request(fields, type_))
    return extras_of(convert_form(_form_extras(fields, type_), type_))


async def plan_images(service: ImageService, ask: ImageAsk, routes: Sequence[Route] | None = None) -> Plan:
    """The plan for ``ask``, checked, then authorized for the client. Raises the 4xx the request deserves.

    ``routes``: targets already chosen for this request (chat looks at the model first).
    """
    n = check_n(ask.n)
    check_prompt(ask.prompt)
    router = service.router
    model = ask.model
    if ask.mask is not None and (model or "").strip() in {"", *OPENAI_IMAGE_MODELS}:
        model = service.config.masks.model  # OpenAI's models take masks: so does the one standing in for them
        routes = None
    name = router.canonical(model)
    routes = list(routes or router.candidates(name))
    info = routes[0].model
    check_background(ask.output, info)
    size = ask.size
    images: tuple[str, ...] = ()
    mask: str | None = None
    refs = ask.references
    if refs is None:
        size = (quality_token(ask.quality, info.generation_tokens) or size) if is_auto(size) else size
    else:
        if refs or ask.needs_references:
            require_edits(info, name)
        if ask.needs_references and not refs:
            raise InvalidRequest(
                "'image' is required: send one file as 'image' or several as 'image[]'", param=ask.reference_param
            )
        if ask.mask is not None:
            images, mask = await _masked(service, info, name, refs, ask.mask)
        elif refs or info.images[0]:
            check_count(info, name, len(refs), ask.reference_param)
            prepared = await prepare_references(refs, info, service.image_workers, param=ask.reference_param)
            images = prepared.uris
            if is_auto(size):
                size = auto_size(info, ask.quality, prepared.last_size)
    extras: dict[type[msgspec.Struct], dict[str, Any]] = {}
    fields = provider_fields(ask.fields)
    for route in routes:
        if route.target.extras not in extras:
            extras[route.target.extras] = _extras(fields, route.target.extras)
    spec = ImageSpec(
        prompt=ask.prompt,
        n=n,
        size=size,
        quality=ask.quality,
        style=ask.style,
        extras=extras[routes[0].target.extras],
        images=images,
        mask=mask,
    )
    plan = Plan(ask.model, name, spec, routes, extras, ask.output)
    plan.calls(0)  # built now: a request the first target cannot take is a 400 before anything starts
    # Last: a request refused as invalid uses up none of the client's rate.
    await service.admit(ask.model, name, ask.prompt, n)
    return plan
