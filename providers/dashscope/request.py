"""OpenAI-style request -> DashScope native request bodies."""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec

from providers.base import HttpRequest, ImageSpec, TaskRef, UpstreamCall
from providers.dashscope.catalog import FUNCTION_PARAMS, Endpoint, ModelEntry
from providers.dashscope.sizes import map_size
from providers.errors import InvalidRequest, UnsupportedParameter
from providers.extras import PaletteColor

__all__ = ["build_calls", "build_compat_calls", "build_poll", "is_compat"]

SEED_MAX = 2_147_483_647
_HEX = re.compile(r"#[0-9A-Fa-f]{6}")
#: No input image is wider or taller than this (the models' largest side is 8000 px).
_MAX_PIXEL = 16384
_BOOL_PARAMS = ("prompt_extend", "watermark", "thinking_mode", "enable_thinking")


def _check_text(model_id: str, entry: ModelEntry, spec: ImageSpec) -> None:
    """The documented prompt lengths, as a 400: DashScope would cut the text without a word."""
    texts = (
        ("prompt", spec.prompt, entry.prompt_max),
        ("negative_prompt", spec.extras.get("negative_prompt"), entry.negative_prompt_max),
    )
    for name, text, limit in texts:
        if isinstance(text, str) and len(text) > limit:
            raise InvalidRequest(
                f"'{name}' is {len(text)} characters; model '{model_id}' takes at most {limit}",
                param=name,
                code="string_above_max_length",
            )


def _check_extras(model_id: str, entry: ModelEntry, extras: dict[str, Any]) -> None:
    """Type checks, so a bad extra is a 400 naming it rather than an upstream error."""
    for name in extras:
        if name not in entry.params:
            # Dropping it would change the image without a word (no negative prompt, no seed).
            takes = ", ".join(p for p in entry.params if p != "style") or "none"
            raise UnsupportedParameter(
                f"Model '{model_id}' does not take '{name}' (its DashScope parameters: {takes})", param=name
            )
    seed = extras.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX):
        raise InvalidRequest(f"'seed' must be an integer between 0 and {SEED_MAX}", param="seed")
    negative = extras.get("negative_prompt")
    if negative is not None and not isinstance(negative, str):
        raise InvalidRequest("'negative_prompt' must be a string", param="negative_prompt")
    for name in _BOOL_PARAMS:
        value = extras.get(name)
        if value is not None and not isinstance(value, bool):
            raise InvalidRequest(f"'{name}' must be a boolean", param=name)


def _parameters(entry: ModelEntry, spec: ImageSpec, n: int, seed_offset: int) -> dict[str, Any]:
    params: dict[str, Any] = {"n": n}  # always explicit: several families default to 4
    wanted = spec.size
    if entry.default_size and not spec.images and (wanted is None or wanted.strip().lower() in ("", "auto")):
        wanted = entry.default_size
    size = map_size(wanted, entry.size_rule(bool(spec.images)))
    if size is not None:
        params["size"] = size
    for name in entry.params:
        if name == "function":
            continue  # an input field (wanx2.1-imageedit)
        value = spec.extras.get(name)
        if name == "style":
            # wanx-v1's own style enum ("<sketch>" ...); OpenAI's vivid/natural have no equivalent.
            value = spec.style if spec.style and spec.style.startswith("<") else None
        if value is None or (name == "negative_prompt" and _negative_in_input(entry)):
            continue
        if name == "seed":
            value = (value + seed_offset) % (SEED_MAX + 1)  # distinct images across fanned-out calls
        if name == "color_palette":
            value = [{"hex": c.hex, "ratio": f"{_percent(c.ratio):.2f}%"} for c in value]  # the documented form
        params[name] = value
    return params


def _negative_in_input(entry: ModelEntry) -> bool:
    return not entry.endpoint.uses_messages and entry.negative_prompt_in == "input"


def _body(entry: ModelEntry, upstream: str, spec: ImageSpec, n: int, seed_offset: int) -> dict[str, Any]:
    prompt = spec.prompt
    inputs: dict[str, Any]
    if entry.endpoint.uses_messages:
        content: list[dict[str, str]] = [{"image": image} for image in spec.images]
        content.append({"text": prompt})
        inputs = {"messages": [{"role": "user", "content": content}]}
    elif entry.input_style == "base_image":
        inputs = {"function": edit_function(spec), "prompt": prompt, "base_image_url": spec.images[0]}
        if spec.mask is not None:
            inputs["mask_image_url"] = spec.mask
    else:
        inputs = {"prompt": prompt}
        if entry.endpoint is Endpoint.IMAGE2IMAGE:
            inputs["images"] = list(spec.images)
        negative = spec.extras.get("negative_prompt")
        if negative is not None and "negative_prompt" in entry.params and _negative_in_input(entry):
            inputs["negative_prompt"] = negative
    return {"model": upstream, "input": inputs, "parameters": _parameters(entry, spec, n, seed_offset)}


def _percent(ratio: str | float) -> float:
    text = str(ratio).strip().removesuffix("%")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 < value <= 100:
        raise InvalidRequest(
            f"color_palette ratio {ratio!r} is not a percentage like '23.51%' (above 0, at most 100)",
            param="color_palette",
        )
    return value


def _check_qwen3(spec: ImageSpec) -> None:
    if spec.extras.get("prompt_extend_mode") == "agent" and spec.images:
        raise InvalidRequest(
            "prompt_extend_mode 'agent' is for text-to-image only: drop it or the input images",
            param="prompt_extend_mode",
        )


def _check_wan27(entry: ModelEntry, spec: ImageSpec) -> None:
    """wan2.7's sets, boxes and palettes, as its API reference describes them."""
    extras = spec.extras
    sequential = extras.get("enable_sequential") is True
    if sequential and spec.n > entry.sequential_max:
        raise InvalidRequest(f"An image set holds at most {entry.sequential_max} images", param="n")
    palette = extras.get("color_palette")
    if palette is not None:
        if sequential:
            raise InvalidRequest("color_palette cannot be used with enable_sequential", param="color_palette")
        _check_palette(palette)
    boxes = extras.get("bbox_list")
    if boxes is not None:
        _check_boxes(boxes, len(spec.images))


def _check_palette(palette: list[PaletteColor]) -> None:
    if not 3 <= len(palette) <= 10:
        raise InvalidRequest(f"color_palette takes 3 to 10 colours, got {len(palette)}", param="color_palette")
    for colour in palette:
        if not _HEX.fullmatch(colour.hex):
            raise InvalidRequest(f"color_palette hex {colour.hex!r} is not '#RRGGBB'", param="color_palette")
    total = sum(round(_percent(c.ratio), 2) for c in palette)
    if abs(total - 100) > 0.001:
        raise InvalidRequest(f"color_palette ratios add up to {total:.2f}%, not 100.00%", param="color_palette")


def _check_boxes(boxes: list[list[list[int]]], images: int) -> None:
    if len(boxes) != images:
        raise InvalidRequest(
            f"bbox_list needs one entry per input image ({images}; [] for an image without boxes), got {len(boxes)}",
            param="bbox_list",
        )
    for per_image in boxes:
        if len(per_image) > 2:
            raise InvalidRequest("bbox_list takes at most 2 boxes per image", param="bbox_list")
        for box in per_image:
            if len(box) != 4 or box[0] >= box[2] or box[1] >= box[3] or min(box) < 0 or max(box) > _MAX_PIXEL:
                raise InvalidRequest(
                    f"bbox_list box {box} is not [x1, y1, x2, y2] in pixels with x1 < x2 and y1 < y2",
                    param="bbox_list",
                )


def edit_function(spec: ImageSpec) -> str:
    """wanx2.1-imageedit's function: as asked, else inpainting with a mask, an instruction edit without."""
    asked = spec.extras.get("function")
    if isinstance(asked, str):
        return asked
    return "description_edit_with_mask" if spec.mask is not None else "description_edit"


def _check_function(model_id: str, entry: ModelEntry, spec: ImageSpec) -> None:
    if spec.mask is not None and not entry.masks:
        raise UnsupportedParameter(f"Model '{model_id}' takes no mask", param="mask")
    if entry.input_style != "base_image":
        return
    function = edit_function(spec)
    if spec.mask is not None and function != "description_edit_with_mask":
        raise InvalidRequest(
            f"A mask is for function 'description_edit_with_mask', not {function!r}: drop one of them",
            param="function",
        )
    if spec.mask is None and function == "description_edit_with_mask":
        raise InvalidRequest("Function 'description_edit_with_mask' needs a mask", param="mask")
    for name, functions in FUNCTION_PARAMS.items():
        if spec.extras.get(name) is not None and function not in functions:
            raise InvalidRequest(
                f"'{name}' is for function {' or '.join(sorted(functions))}, not {function!r}", param=name
            )


def _check_images(model_id: str, entry: ModelEntry, spec: ImageSpec) -> None:
    low, high = entry.images
    count = len(spec.images)
    if count < low:
        raise InvalidRequest(
            f"Model '{model_id}' edits images: it needs {low}..{high} input images "
            "(use /v1/images/edits or send them with the request)",
            param="image" if count else "model",
        )
    if count > high:
        raise InvalidRequest(f"Model '{model_id}' takes at most {high} input images, got {count}", param="image")


def _check(model_id: str, entry: ModelEntry, spec: ImageSpec) -> None:
    _check_images(model_id, entry, spec)
    _check_extras(model_id, entry, dict(spec.extras))
    _check_function(model_id, entry, spec)
    _check_wan27(entry, spec)
    _check_qwen3(spec)
    _check_text(model_id, entry, spec)


def _shares(entry: ModelEntry, spec: ImageSpec) -> list[tuple[int, int]]:
    """(n, images before it) per call: more than the model's n_max fans out."""
    # A set is one call: its n is a maximum, and the model decides how many images it holds.
    per_call = entry.sequential_max if spec.extras.get("enable_sequential") is True else entry.n_max
    shares, done = [], 0
    while done < spec.n:
        n = min(per_call, spec.n - done)
        shares.append((n, done))
        done += n
    return shares


def build_calls(base_url: str, model_id: str, upstream: str, entry: ModelEntry, spec: ImageSpec) -> list[UpstreamCall]:
    """The calls that produce ``spec.n`` images."""
    _check(model_id, entry, spec)
    headers = {"Content-Type": "application/json"}
    if entry.is_async:
        headers["X-DashScope-Async"] = "enable"
    url = f"{base_url}/api/v1/services/aigc/{entry.endpoint.value}"
    revised = entry.revised_prompt_text and spec.extras.get("prompt_extend") is True
    calls = []
    for n, done in _shares(entry, spec):
        body = _body(entry, upstream, spec, n, done)
        request = HttpRequest("POST", url, headers, msgspec.json.encode(body))
        size = body.get("parameters", {}).get("size")
        call = UpstreamCall(request, n=n, creates_task=entry.is_async, revised_prompt=revised, size=size and str(size))
        calls.append(call)
    return calls


COMPAT_IMAGES_PATH = "/compatible-mode/v1/images/generations"
#: The extensions the compatible endpoint takes at the top level of its body.
_COMPAT_EXTRAS = ("negative_prompt", "seed", "prompt_extend", "prompt_extend_mode", "enable_thinking", "watermark")


def build_compat_calls(
    base_url: str, model_id: str, upstream: str, entry: ModelEntry, spec: ImageSpec
) -> list[UpstreamCall]:
    """The same request for the OpenAI-compatible image endpoint: a flat body, ``WxH``, ``image`` for edits."""
    _check(model_id, entry, spec)
    calls = []
    for n, done in _shares(entry, spec):
        params = _parameters(entry, spec, n, done)
        body: dict[str, Any] = {"model": upstream, "prompt": spec.prompt, "n": n}
        if "size" in params:
            body["size"] = str(params["size"]).replace("*", "x")
        if spec.images:
            body["image"] = list(spec.images) if len(spec.images) > 1 else spec.images[0]
        body.update({name: params[name] for name in _COMPAT_EXTRAS if name in params})
        headers = {"Content-Type": "application/json"}
        request = HttpRequest("POST", base_url + COMPAT_IMAGES_PATH, headers, msgspec.json.encode(body))
        calls.append(UpstreamCall(request, n, size=body.get("size")))
    return calls


def is_compat(call: UpstreamCall) -> bool:
    return call.request.url.endswith(COMPAT_IMAGES_PATH)


def build_poll(base_url: str, task: TaskRef) -> HttpRequest:
    # Tasks are bound to their region: always poll the host that took the submit.
    return HttpRequest("GET", f"{base_url}/api/v1/tasks/{task.task_id}")
