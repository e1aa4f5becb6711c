"""Request validation, steps 2-8 of DashScope's order; the first failure wins.

Step 1 (auth) is done by the caller; steps 9 and 10 (rate limits, refusal faults) after this returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from . import params
from .config import Region
from .errors import invalid, model_not_found, no_async, no_sync
from .faults import ENTITLEMENT, Faults, parse_faults, raise_marked
from .images import InputImage
from .models import WAN26_INTERLEAVE_IMAGES, WANX_V1_REF_IMAGE, find_model
from .rules import Endpoint, ImageRule, Kind, ModelRule
from .wire import Input, Parameters

_S = TypeVar("_S", Input, Parameters)


@dataclass(frozen=True, slots=True)
class Call:
    """The facts of the HTTP call that validation depends on."""

    endpoint: Endpoint
    region: Region
    async_header: bool = False
    sse: bool = False
    oss_resolve: bool = False


@dataclass(frozen=True, slots=True)
class Job:
    """A validated generation request."""

    rule: ModelRule
    model: str
    endpoint: Endpoint
    prompt: str  # as sent: markers and the flaky counters key on it
    prompt_used: str  # truncated to the model's limit, as the real service does silently
    faults: Faults
    n: int
    count: int
    width: int
    height: int
    images: tuple[InputImage, ...]
    prompt_extend: bool
    interleave: bool = False
    seed: int | None = None


def validate(body: bytes, call: Call) -> Job:
    data = _parse_json(body)
    model, rule = _find_model(data, call.region)
    _check_route(rule, model, call)
    faults = parse_faults(_loose_prompt(data))
    raise_marked(faults, ENTITLEMENT)
    inp, par = _convert(data)
    interleave = rule.kind is Kind.WAN26_IMAGE and bool(par.enable_interleave)
    prompt, refs = _content(rule, model, call.endpoint, inp)
    image_rule = _image_rule(rule, interleave)
    _check_count(image_rule, model, len(refs))
    spec = params.check(
        rule,
        model,
        inp,
        par,
        refs,
        call,
        image_rule=image_rule,
        interleave=interleave,
        wide_2k=faults.has("wide-2k"),
    )
    return Job(
        rule=rule,
        model=model,
        endpoint=call.endpoint,
        prompt=prompt,
        prompt_used=prompt[: rule.prompt_max],
        faults=faults,
        n=spec.n,
        count=spec.count,
        width=spec.width,
        height=spec.height,
        images=spec.images,
        # z-image-turbo rewrites only when asked (its default is false); the others when not told not to.
        prompt_extend=par.prompt_extend is True
        if rule.kind is Kind.ZIMAGE
        else rule.prompt_extend and par.prompt_extend is not False,
        interleave=interleave,
        seed=par.seed,
    )


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise invalid(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.")
    return data


def _find_model(data: dict[str, Any], region: Region) -> tuple[str, ModelRule]:
    model = data.get("model")
    if model is None or model == "":
        raise invalid("Model not specified.")
    if not isinstance(model, str):
        raise invalid("The model must be a string.")
    rule = find_model(model, region)
    if rule is None:
        raise model_not_found()
    return model, rule


def _check_route(rule: ModelRule, model: str, call: Call) -> None:
    """Steps 4 and 5: the endpoint family must serve the model, then the async header must fit."""
    endpoint = call.endpoint
    family = {Endpoint.MULTIMODAL, Endpoint.IMAGE_GENERATION} if endpoint.messages_style else {endpoint}
    if not rule.endpoints & family:
        raise invalid(f"Model {model} is not supported by the {endpoint.value} API.")
    if endpoint.is_async and not call.async_header:
        raise no_sync()
    if not endpoint.is_async and call.region in rule.async_only_in:
        raise no_sync()  # e.g. Frankfurt serves wan2.6-image asynchronously only
    if call.async_header and (not endpoint.is_async or endpoint not in rule.endpoints):
        raise no_async()


def _loose_prompt(data: dict[str, Any]) -> str:
    """The prompt text before schema checks, so that entitlement markers can fire at step 6."""
    inp = data.get("input")
    if not isinstance(inp, dict):
        return ""
    if isinstance(inp.get("prompt"), str):
        return str(inp["prompt"])
    texts: list[str] = []
    messages = inp.get("messages")
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for item in content if isinstance(content, list) else []:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                texts.append(item["text"])
    return "\n".join(texts)


def _convert(data: dict[str, Any]) -> tuple[Input, Parameters]:
    if "input" not in data or data["input"] is None:
        raise invalid("Required parameter input is missing.")
    return _typed(data["input"], Input, "input"), _typed(data.get("parameters") or {}, Parameters, "parameters")


def _typed(value: Any, kind: type[_S], section: str) -> _S:
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        # msgspec says `$.n`; name the section the caller knows instead.
        raise invalid(f"Invalid request parameter: {str(exc).replace('`$', f'`{section}')}") from None


def _content(rule: ModelRule, model: str, endpoint: Endpoint, inp: Input) -> tuple[str, list[str]]:
    """The prompt and the input image references, by the endpoint's input style."""
    if endpoint.messages_style:
        return _messages(inp)
    if not inp.prompt:
        raise invalid("Required parameter input.prompt is missing or empty.")
    if rule.kind is Kind.WANX_V1:
        return inp.prompt, [inp.ref_img] if inp.ref_img else []
    if rule.kind is Kind.IMAGEEDIT:
        if not inp.base_image_url:
            raise invalid("Required parameter input.base_image_url is missing.")
        return inp.prompt, [inp.base_image_url]
    if endpoint is Endpoint.IMAGE2IMAGE:
        if inp.images is None:
            raise invalid(f"Required parameter input.images is missing for {model}.")
        return inp.prompt, list(inp.images)
    return inp.prompt, []


def _messages(inp: Input) -> tuple[str, list[str]]:
    if not inp.messages:
        raise invalid("Required parameter input.messages is missing.")
    if len(inp.messages) != 1:
        raise invalid("messages length only support 1")
    message = inp.messages[0]
    if message.role != "user":
        raise invalid("Role must be user and Content length must be greater than 0")
    texts: list[str] = []
    images: list[str] = []
    for item in message.content:
        if (item.text is None) == (item.image is None):
            raise invalid("Each content item must hold exactly one of text or image.")
        if item.text is not None:
            texts.append(item.text)
        elif item.image is not None:
            images.append(item.image)
    if not texts or not texts[0]:
        raise invalid("lack of image or text")
    if len(texts) > 1:
        raise invalid("The content must contain exactly one text item.")
    return texts[0], images


def _image_rule(rule: ModelRule, interleave: bool) -> ImageRule | None:
    if interleave:
        return WAN26_INTERLEAVE_IMAGES
    if rule.kind is Kind.WANX_V1:
        return WANX_V1_REF_IMAGE
    return rule.images


def _check_count(images: ImageRule | None, model: str, count: int) -> None:
    if images is None or images.max_count == 0:
        if count:
            raise invalid(f"Model {model} accepts text input only; input images are not supported.")
        return
    if not images.min_count <= count <= images.max_count:
        raise invalid(f"Model {model} accepts {images.min_count} to {images.max_count} input images, got {count}.")
