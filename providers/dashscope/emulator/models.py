"""The emulator's own model table: one frozen entry per DashScope image model, per region.

Deliberately independent of the gateway's catalog so that tests check one against the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .config import Region
from .rules import MB, Endpoint, ImageRule, Kind, ModelRule, NRange, Rate, Shape, SizeRule

_T2I = frozenset({Endpoint.TEXT2IMAGE})
_I2I = frozenset({Endpoint.IMAGE2IMAGE})
_SYNC = frozenset({Endpoint.MULTIMODAL})
_BOTH = frozenset({Endpoint.MULTIMODAL, Endpoint.IMAGE_GENERATION})
_QWEN_ASYNC = frozenset({Endpoint.MULTIMODAL, Endpoint.TEXT2IMAGE})

_QWEN_FIXED = ((1664, 928), (1472, 1104), (1328, 1328), (1104, 1472), (928, 1664))
_QWEN_FORMATS = frozenset({"JPEG", "PNG", "BMP", "TIFF", "WEBP", "GIF"})

_WANX2_SIZE = SizeRule("box", smin=512, smax=1440, default="1024*1024")
# The server accepts the official presets below 1280², so the lower bounds are lenient.
_WAN25_T2I_SIZE = SizeRule("box", amin=768 * 768, amax=1440 * 1440, rmin=0.25, rmax=4, default="1280*1280")
_WAN26_T2I_SIZE = SizeRule("box", amin=1_600_000, amax=1440 * 1440, rmin=0.25, rmax=4, default="1280*1280")
_WAN27_SIZE = SizeRule(
    "box",
    amin=768 * 768,
    amax=2048 * 2048,
    rmin=1 / 8,
    rmax=8,
    tokens=(("1K", 1024), ("2K", 2048)),
    default="2K",
)
_QWEN20_SIZE = SizeRule("box", amin=512 * 512, amax=2048 * 2048, default="2048*2048", follow_on_edit=True)
_QWEN_EDIT_PLUS_SIZE = SizeRule("box", smin=512, smax=2048, round16=True, default=None)

WAN26_INTERLEAVE_SIZE = SizeRule("box", amin=768 * 768, amax=1280 * 1280, rmin=0.25, rmax=4, default="1024*1024")
WAN26_INTERLEAVE_IMAGES = ImageRule(0, 1, smin=240, smax=8000)
WAN27_SEQUENTIAL_N = NRange(1, 12, 12)
WANX_V1_REF_IMAGE = ImageRule(0, 1)

_WAN_N = NRange(1, 4, 4)
_ONE = NRange(1, 1, 1)
_QWEN_N = NRange(1, 6, 1)

_WAN27 = ModelRule(
    "wan2.7-image",
    "wan2.7-image",
    _BOTH,
    _WAN27_SIZE,
    _WAN_N,
    Rate(5, concurrency=5),
    images=ImageRule(0, 9, max_bytes=20 * MB, smin=240, smax=8000, rmin=1 / 8, rmax=8, no_alpha=True),
    prompt_max=5000,
    orig_prompt=False,
    token_usage=True,
    kind=Kind.WAN27,
)
_QWEN20 = ModelRule(
    "qwen-image-2.0",
    "qwen-image-2.0",
    _SYNC,
    _QWEN20_SIZE,
    _QWEN_N,
    Rate(2),
    images=ImageRule(0, 3, formats=_QWEN_FORMATS),
    prompt_max=1300,
    shape=Shape.QWEN,
)
# One id for text-to-image and edits (1-3 images), sync and async. The page says area
# [512^2, 2048^2]; third parties got up to 2560^2 accepted, so that is what is accepted here.
# No size: 2048^2 (billed at the 2K tier), as third parties observed.
_QWEN3 = ModelRule(
    "qwen-image-3.0",
    "qwen-image-3.0",
    _BOTH,
    SizeRule("box", amin=512 * 512, amax=2560 * 2560, rmin=1 / 8, rmax=8, default="2048*2048", follow_on_edit=True),
    _QWEN_N,
    Rate(2, concurrency=2),
    images=ImageRule(0, 3, formats=_QWEN_FORMATS | {"TIFF"}),
    prompt_max=4500,
    shape=Shape.QWEN,
    kind=Kind.QWEN3,
)
_QWEN_EDIT = ModelRule(
    "qwen-image-edit",
    "qwen-image-edit",
    _SYNC,
    SizeRule("box", default=None, accepts_size=False),
    _ONE,
    Rate(2),
    images=ImageRule(1, 3, formats=_QWEN_FORMATS),
    shape=Shape.QWEN,
    sync_task_metric=True,
)

MODELS: tuple[ModelRule, ...] = (
    ModelRule(
        "wanx-v1",
        None,
        _T2I,
        SizeRule("enum", options=((1024, 1024), (720, 1280), (768, 1152), (1280, 720)), default="1024*1024"),
        _WAN_N,
        Rate(2, concurrency=1),
        orig_prompt=False,
        kind=Kind.WANX_V1,
    ),
    ModelRule("wanx2.0-t2i-turbo", None, _T2I, _WANX2_SIZE, _WAN_N, Rate(2, concurrency=2), prompt_extend=True),
    ModelRule(
        "wanx2.1-t2i-turbo",
        "wan2.1-t2i-turbo",
        _T2I,
        _WANX2_SIZE,
        _WAN_N,
        Rate(2, concurrency=2),
        prompt_extend=True,
    ),
    ModelRule(
        "wanx2.1-t2i-plus",
        "wan2.1-t2i-plus",
        _T2I,
        _WANX2_SIZE,
        _WAN_N,
        Rate(2, concurrency=2),
        prompt_extend=True,
    ),
    ModelRule(
        "wan2.2-t2i-flash",
        "wan2.2-t2i-flash",
        _T2I,
        _WANX2_SIZE,
        _WAN_N,
        Rate(2, concurrency=2),
        prompt_max=500,
        prompt_extend=True,
    ),
    ModelRule(
        "wan2.2-t2i-plus",
        "wan2.2-t2i-plus",
        _T2I,
        _WANX2_SIZE,
        _WAN_N,
        Rate(2, concurrency=2),
        prompt_max=500,
        prompt_extend=True,
    ),
    ModelRule(
        "wan2.5-t2i-preview",
        "wan2.5-t2i-preview",
        _T2I,
        _WAN25_T2I_SIZE,
        _WAN_N,
        Rate(5, concurrency=5),
        prompt_max=2000,
        prompt_extend=True,
    ),
    ModelRule(
        "wan2.6-t2i",
        "wan2.6-t2i",
        _BOTH,
        _WAN26_T2I_SIZE,
        _WAN_N,
        Rate(1, concurrency=5),
        prompt_max=2100,
        orig_prompt=False,
        rate_intl=Rate(5, concurrency=5),
        regions=frozenset({"us"}),
    ),
    ModelRule(
        "wan2.6-image",
        "wan2.6-image",
        _BOTH,
        SizeRule(
            "box",
            amin=768 * 768,
            amax=2048 * 2048,
            rmin=0.25,
            rmax=4,
            tokens=(("1K", 1280), ("2K", 2048)),
            default="1K",
        ),
        _WAN_N,
        Rate(5, concurrency=5),
        images=ImageRule(1, 4, smin=240, smax=8000),
        prompt_max=2000,
        orig_prompt=False,
        kind=Kind.WAN26_IMAGE,
        regions=frozenset({"us", "eu"}),
        async_only_in=frozenset({"eu"}),
    ),
    _WAN27,
    replace(
        _WAN27,
        name="wan2.7-image-pro",
        intl_name="wan2.7-image-pro",
        size=replace(_WAN27_SIZE, t2i_tokens=(("4K", 4096),), t2i_amax=4096 * 4096),
    ),
    ModelRule(
        "qwen-image",
        "qwen-image",
        _QWEN_ASYNC,
        SizeRule(
            "enum", options=(*_QWEN_FIXED, (1472, 1140), (1140, 1472)), default="1664*928"
        ),  # older 1140 spelling too
        _ONE,
        Rate(2, concurrency=2),
        shape=Shape.QWEN,
        prompt_extend=True,
        sync_task_metric=True,
    ),
    ModelRule(
        "qwen-image-plus",
        "qwen-image-plus",
        _QWEN_ASYNC,
        SizeRule(
            "enum", options=(*_QWEN_FIXED, (1472, 1140), (1140, 1472)), default="1664*928"
        ),  # older 1140 spelling too
        _ONE,
        Rate(2, concurrency=2),
        shape=Shape.QWEN,
        prompt_extend=True,
        sync_task_metric=True,
    ),
    ModelRule(
        "qwen-image-max",
        "qwen-image-max",
        _SYNC,
        SizeRule("enum", options=_QWEN_FIXED, default="1664*928"),
        _ONE,
        Rate(2, window=60.0),
        shape=Shape.QWEN,
        sync_task_metric=True,
        aliases=("qwen-image-max-2025-12-30",),
    ),
    _QWEN20,
    replace(_QWEN20, name="qwen-image-2.0-pro", intl_name="qwen-image-2.0-pro", rate=Rate(2, window=60.0)),
    replace(_QWEN3, regions=frozenset({"us", "eu", "jp", "hk"})),
    replace(
        _QWEN3,
        name="qwen-image-3.0-pro",
        intl_name="qwen-image-3.0-pro",
        rate=Rate(1, window=60.0),
        regions=frozenset({"us", "jp"}),
    ),
    ModelRule(
        "z-image-turbo",
        "z-image-turbo",
        _SYNC,
        SizeRule("box", amin=512 * 512, amax=2048 * 2048, default="1024*1536"),
        _ONE,
        Rate(2),
        images=ImageRule(0, 0),
        prompt_max=800,
        shape=Shape.QWEN,
        kind=Kind.ZIMAGE,
    ),
    _QWEN_EDIT,
    replace(
        _QWEN_EDIT,
        name="qwen-image-edit-plus",
        intl_name="qwen-image-edit-plus",
        size=_QWEN_EDIT_PLUS_SIZE,
        n=_QWEN_N,
        aliases=("qwen-image-edit-plus-2025-10-30", "qwen-image-edit-plus-2025-12-15"),
    ),
    replace(
        _QWEN_EDIT,
        name="qwen-image-edit-max",
        intl_name="qwen-image-edit-max",
        size=_QWEN_EDIT_PLUS_SIZE,
        n=_QWEN_N,
        aliases=("qwen-image-edit-max-2026-01-16",),
    ),
    ModelRule(
        "wan2.5-i2i-preview",
        "wan2.5-i2i-preview",
        _I2I,
        SizeRule("box", amin=768 * 768, amax=1280 * 1280, rmin=0.25, rmax=4, default="1280*1280"),
        _WAN_N,
        Rate(5, concurrency=5),
        images=ImageRule(1, 3, smin=384, smax=5000),
        prompt_max=2000,
        prompt_extend=True,
    ),
    ModelRule(
        "wanx2.1-imageedit",
        None,
        _I2I,
        SizeRule("input", accepts_size=False),
        NRange(1, 4, 1),
        Rate(2, concurrency=2),
        images=ImageRule(1, 1, smin=512, smax=4096, formats=_QWEN_FORMATS - {"GIF"}),
        kind=Kind.IMAGEEDIT,
    ),
)

TEXT_MODELS: tuple[str, ...] = ("qwen-plus", "qwen-turbo", "qwen-max")


def _index(region: Region) -> dict[str, ModelRule]:
    table: dict[str, ModelRule] = {}
    for rule in MODELS:
        name = rule.name if region == "cn" else rule.intl_name
        if region not in ("cn", "intl") and region not in rule.regions:
            name = None
        if name is None:
            continue
        table[name] = rule
        for alias in rule.aliases:
            table[alias] = rule
    return table


REGION_MODELS: Mapping[Region, Mapping[str, ModelRule]] = {
    region: _index(region) for region in ("cn", "intl", "us", "eu", "jp", "hk")
}


def find_model(name: str, region: Region) -> ModelRule | None:
    return REGION_MODELS[region].get(name)
