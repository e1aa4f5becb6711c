"""``image-gateway``: serve the gateway, or run the DashScope emulator."""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import socket
import sys
import threading
from collections.abc import Sequence

import msgspec
import uvicorn

from gateway.observability.logs import configure_logging
from gateway.settings import ConfigError, GatewayConfig, load_config
from providers.secret import Secret

__all__ = ["main"]

EMULATOR_KEYS_ENV = "DASHSCOPE_EMULATOR_KEYS"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(app: object, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level=log_level,
        log_config=None,
        backlog=4096,
        timeout_keep_alive=30,
        # Client addresses are not used; trusting X-Forwarded-For costs time per request.
        proxy_headers=False,
    )


def _emulator_app(
    region: str, latency: float, pending: float, keys: Sequence[str], enforce: bool, compat_images: bool = False
) -> object:
    from providers.dashscope.emulator import EmulatorConfig, create_app

    config = EmulatorConfig(
        region=region,  # type: ignore[arg-type]
        api_keys=tuple(keys),
        latency=latency,
        pending_seconds=pending,
        enforce_limits=enforce,
        compat_images=compat_images,
    )
    return create_app(config)


def _start_embedded_emulators(config: GatewayConfig) -> GatewayConfig:
    """Serve every DashScope provider from an in-process emulator on a loopback port."""
    key = f"sk-emulator-{secrets.token_hex(16)}"
    providers = dict(config.providers)
    started: list[str] = []
    for name, provider in config.providers.items():
        if provider.kind != "dashscope":
            continue
        sock = _bind("127.0.0.1", 0)
        port = sock.getsockname()[1]
        app = _emulator_app(provider.region, 1.0, 0.2, [key], False)
        server = uvicorn.Server(_uvicorn_config(app, "127.0.0.1", port, log_level="warning"))
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"emulator-{name}").start()
        providers[name] = msgspec.structs.replace(provider, base_url=f"http://127.0.0.1:{port}", api_key=Secret(key))
        started.append(f"{name} ({provider.region}) at http://127.0.0.1:{port}")
    if started:
        print("No DashScope key set: serving from the built-in DashScope emulator: " + ", ".join(started), flush=True)
    return msgspec.structs.replace(config, providers=providers)


def _has_dashscope_key(config: GatewayConfig) -> bool:
    return any(p.api_key for p in config.providers.values() if p.kind == "dashscope")


def _load(path: str | None) -> GatewayConfig | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"image-gateway: {exc}", file=sys.stderr)
        return None


def cmd_serve(args: argparse.Namespace) -> int:
    configure_logging()
    config = _load(args.config)
    if config is None:
        return 2
    if not config.has_client_keys and not _is_loopback(args.host):
        print(
            f"image-gateway: refusing to listen on {args.host} without client keys: anyone could spend "
            "your provider credits. Set GATEWAY_API_KEYS (or keys in the config), or bind to 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    if args.emulator or (not _has_dashscope_key(config) and _is_loopback(args.host)):
        config = _start_embedded_emulators(config)
    elif not _has_dashscope_key(config):
        # Never fall back to fake images on a real deployment: say so and serve as configured.
        print("image-gateway: warning: no DashScope key is set; DashScope models will fail", file=sys.stderr)
    from gateway.app import create_app
    from gateway.http.server import DrainingServer
    from gateway.runtime import Runtime

    runtime = Runtime(config)
    try:
        app = create_app(config, runtime)
    except ConfigError as exc:
        print(f"image-gateway: {exc}", file=sys.stderr)
        return 2
    DrainingServer(_uvicorn_config(app, args.host, args.port), runtime).run()
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.path)
    if config is None:
        return 2
    from gateway.app import build_router

    try:
        router = build_router(config)
    except ConfigError as exc:
        print(f"image-gateway: {exc}", file=sys.stderr)
        return 2
    models = sum(len(target.adapter.models()) for target in router.targets.values())
    print(
        f"{args.path or 'configuration'}: OK ({len(config.providers)} providers, {models} models, "
        f"{len(config.aliases)} aliases, {len(config.routes)} routes)"
    )
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return 2
    import asyncio

    from gateway.app import build_targets
    from gateway.engine.transport import Upstream
    from gateway.observability.keystatus import check_keys

    try:
        targets = list(build_targets(config).values())
    except ConfigError as exc:
        print(f"image-gateway: {exc}", file=sys.stderr)
        return 2

    async def run() -> list[dict[str, str | None]]:
        up = config.upstream
        upstream = Upstream(max_connections=16, connect_timeout=up.connect_timeout, read_timeout=up.read_timeout)
        try:
            return [s.as_dict() for s in await check_keys(upstream, targets)]
        finally:
            await upstream.aclose()

    rows = asyncio.run(run())
    print(f"{'provider':<20} {'key':<8} {'status':<12} {'fingerprint':<12} warning")
    for row in rows:
        print(
            f"{row['provider']:<20} {row['key']:<8} {row['status']:<12} {row['fingerprint'] or '-':<12} "
            f"{row['warning'] or ''}".rstrip()
        )
    return 0 if all(row["status"] in ("valid", "not set") for row in rows) else 1


def cmd_emulator(args: argparse.Namespace) -> int:
    keys = [k.strip() for k in os.environ.get(EMULATOR_KEYS_ENV, "").split(",") if k.strip()]
    app = _emulator_app(args.region, args.latency, args.pending, keys, args.enforce_limits, args.compat_images)
    uvicorn.Server(_uvicorn_config(app, args.host, args.port, log_level="warning")).run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="image-gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--config", help="config file (default: $GATEWAY_CONFIG or config/gateway.yaml)")
    serve.add_argument("--emulator", action="store_true", help="serve DashScope models from the built-in emulator")
    serve.set_defaults(func=cmd_serve)

    emulator = sub.add_parser(
        "emulator", help=f"run the DashScope emulator (accepted keys: ${EMULATOR_KEYS_ENV}, comma-separated)"
    )
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8100)
    emulator.add_argument("--region", choices=["cn", "intl"], default="cn")
    emulator.add_argument("--latency", type=float, default=1.0, help="seconds per sync call / async task run")
    emulator.add_argument("--pending", type=float, default=0.2, help="seconds an async task stays PENDING")
    emulator.add_argument("--enforce-limits", action="store_true", help="apply DashScope's rate and concurrency limits")
    emulator.add_argument(
        "--compat-images",
        action="store_true",
        help="serve /compatible-mode/v1/images/generations (QwenCloud style; real DashScope hosts 404 it)",
    )
    emulator.set_defaults(func=cmd_emulator)

    check = sub.add_parser("check-config", help="validate a config file without starting")
    check.add_argument("path", nargs="?", help="config file (default: $GATEWAY_CONFIG or config/gateway.yaml)")
    check.set_defaults(func=cmd_check_config)

    keys = sub.add_parser("keys", help="show each provider key's status (never the key)")
    keys.add_argument("--config", help="config file (default: $GATEWAY_CONFIG or config/gateway.yaml)")
    keys.set_defaults(func=cmd_keys)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
