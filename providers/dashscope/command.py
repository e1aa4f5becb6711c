"""``image-gateway emulator``: the DashScope emulator as a server of its own (tests, demos, benches)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from providers.dashscope.regions import REGIONS

__all__ = ["EMULATOR_KEYS_ENV", "add_commands"]

EMULATOR_KEYS_ENV = "DASHSCOPE_EMULATOR_KEYS"

Serve = Callable[[object, str, int], None]


def _run(args: argparse.Namespace, serve: Serve) -> int:
    from providers.dashscope.emulator import EmulatorConfig, create_app

    keys = [k.strip() for k in os.environ.get(EMULATOR_KEYS_ENV, "").split(",") if k.strip()]
    config = EmulatorConfig(
        region=args.region,
        api_keys=tuple(keys),
        latency=args.latency,
        pending_seconds=args.pending,
        enforce_limits=args.enforce_limits,
        compat_images=args.compat_images,
    )
    serve(create_app(config), args.host, args.port)
    return 0


def add_commands(sub: Any, serve: Serve) -> None:
    """Adds ``emulator`` to the ``image-gateway`` command's subparsers."""
    emulator = sub.add_parser(
        "emulator", help=f"run the DashScope emulator (accepted keys: ${EMULATOR_KEYS_ENV}, comma-separated)"
    )
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8100)
    emulator.add_argument("--region", choices=sorted(REGIONS), default="cn")
    emulator.add_argument("--latency", type=float, default=1.0, help="seconds per sync call / async task run")
    emulator.add_argument("--pending", type=float, default=0.2, help="seconds an async task stays PENDING")
    emulator.add_argument("--enforce-limits", action="store_true", help="apply DashScope's rate and concurrency limits")
    emulator.add_argument(
        "--compat-images",
        action="store_true",
        help="serve /compatible-mode/v1/images/generations (QwenCloud style; real DashScope hosts 404 it)",
    )
    emulator.set_defaults(func=lambda args: _run(args, serve))
