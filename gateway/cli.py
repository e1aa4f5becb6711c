"""``image-gateway``: serve the gateway, check its config and keys, and the provider kinds' own commands."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import resource
import secrets
import socket
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec
import uvicorn

from gateway.observability.logs import configure_logging
from gateway.settings import ConfigError, GatewayConfig, load_config
from providers import registry
from providers.kind import ProviderSettings
from providers.secret import Secret

if TYPE_CHECKING:
    from gateway.runtime import Runtime

__all__ = ["main"]


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


def _serve_app(app: object, host: str, port: int) -> None:
    uvicorn.Server(_uvicorn_config(app, host, port, log_level="warning")).run()


def _stand_ins(config: GatewayConfig) -> dict[str, ProviderSettings]:
    """The providers whose kind can be served by an in-process emulator."""
    return {name: p for name, p in config.providers.items() if registry.kind_of(p).emulator is not None}


def _start_embedded_emulators(config: GatewayConfig, titles: list[str] | None) -> dict[str, list[str]]:
    """Serve the providers of kinds ``titles`` (None: every kind that has an emulator) from
    in-process emulators on loopback ports: ``{provider: [base_url, key]}``."""
    key = f"sk-emulator-{secrets.token_hex(16)}"
    emulated: dict[str, list[str]] = {}
    started: dict[str, list[str]] = {}
    for name, provider in _stand_ins(config).items():
        kind = registry.kind_of(provider)
        assert kind.emulator is not None
        if titles is not None and kind.title not in titles:
            continue  # a kind whose key is set is served for real
        sock = _bind("127.0.0.1", 0)
        port = sock.getsockname()[1]
        server = uvicorn.Server(_uvicorn_config(kind.emulator(provider, key), "127.0.0.1", port, log_level="warning"))
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"emulator-{name}").start()
        emulated[name] = [f"http://127.0.0.1:{port}", key]
        started.setdefault(kind.title, []).append(f"{name} at http://127.0.0.1:{port}")
    for title, where in started.items():
        print(f"No {title} key set: serving from the built-in {title} emulator: " + ", ".join(where), flush=True)
    return emulated


def _use_emulators(config: GatewayConfig, emulated: dict[str, list[str]]) -> GatewayConfig:
    """The config with ``emulated`` providers sent to their emulators (base URL and key)."""
    providers = dict(config.providers)
    for name, (url, key) in emulated.items():
        providers[name] = msgspec.structs.replace(providers[name], base_url=url, api_key=Secret(key))
    return msgspec.structs.replace(config, providers=providers)


def _keyless(config: GatewayConfig) -> list[str]:
    """Kinds with an emulator, none of whose providers has a key (named as people call them)."""
    titles: dict[str, bool] = {}
    for provider in _stand_ins(config).values():
        title = registry.kind_of(provider).title
        titles[title] = titles.get(title, False) or provider.api_key is not None
    return [title for title, keyed in titles.items() if not keyed]


def _load(path: str | None) -> GatewayConfig | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"image-gateway: {exc}", file=sys.stderr)
        return None


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{count} workers: at least 1 is needed")
    return count


def _raise_open_files_limit() -> None:
    """The soft open-files limit up to the hard one: each request in flight holds a client
    socket and an upstream one, and a 1024 soft limit (a common default) would refuse
    connections long before the pool's 4096 are in use."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))


def cmd_serve(args: argparse.Namespace) -> int:
    configure_logging()
    _raise_open_files_limit()
    config = _load(args.config)
    if config is None:
        return 2
    if args.worker_fd is not None:
        return _serve_worker(args, config)
    if not config.has_client_keys and not _is_loopback(args.host):
        print(
            f"image-gateway: refusing to listen on {args.host} without client keys: anyone could spend "
            "your provider credits. Set GATEWAY_API_KEYS (or keys in the config), or bind to 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    keyless = _keyless(config)
    emulated: dict[str, list[str]] = {}
    if args.emulator or (keyless and _is_loopback(args.host)):
        emulated = _start_embedded_emulators(config, None if args.emulator else keyless)
        configure_logging()  # the emulators' app set up its own
    else:
        # Never fall back to fake images on a real deployment: say so and serve as configured.
        for title in keyless:
            print(f"image-gateway: warning: no {title} key is set; {title} models will fail", file=sys.stderr)
    if args.workers > 1:
        from gateway.supervisor import Supervisor, bind_reuseport

        try:
            sockets = bind_reuseport(args.host, args.port, args.workers)
        except OSError as exc:
            print(f"image-gateway: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
            return 1
        worker_args = ["serve", "--host", args.host, "--port", str(sockets[0].getsockname()[1])]
        worker_args += ["--config", args.config] if args.config else []
        return Supervisor(worker_args, sockets, emulators=emulated).run()
    config = _use_emulators(config, emulated)
    built = _build(config)
    if built is None:
        return 2
    from gateway.http.server import DrainingServer

    DrainingServer(_uvicorn_config(built[0], args.host, args.port), built[1]).run()
    return 0


def _build(config: GatewayConfig) -> tuple[object, Runtime] | None:
    """The app and its runtime; None (the error printed) when the configuration cannot be served."""
    from gateway.app import create_app
    from gateway.runtime import Runtime

    runtime = Runtime(config)
    try:
        return create_app(config, runtime), runtime
    except ConfigError as exc:
        print(f"image-gateway: {exc}", file=sys.stderr)
        return None


def _serve_worker(args: argparse.Namespace, config: GatewayConfig) -> int:
    """One worker under ``serve --workers N``: the supervisor's socket, emulators and checks."""
    from gateway.supervisor import EMULATORS_ENV

    config = _use_emulators(config, json.loads(os.environ.get(EMULATORS_ENV) or "{}"))
    built = _build(config)
    if built is None:
        return 2
    from gateway.http.server import DrainingServer

    sock = socket.socket(fileno=args.worker_fd)
    DrainingServer(_uvicorn_config(built[0], args.host, args.port), built[1], supervised=True).run(sockets=[sock])
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


def cmd_usage(args: argparse.Namespace) -> int:
    """The usage ledger's totals, as ``GET /admin/usage`` gives them, read from the configured database."""
    config = _load(args.config)
    if config is None:
        return 2
    from providers.errors import InvalidRequest

    try:
        from gateway.usage.query import parse_query

        query = parse_query(args.start, args.end, args.group_by, args.format)
    except InvalidRequest as exc:
        print(
            f"image-gateway: {exc.message.replace(repr('from'), '--from').replace(repr('to'), '--to')}", file=sys.stderr
        )
        return 2
    from gateway.observability.metrics import Metrics
    from gateway.usage.database import describe_error
    from gateway.usage.ledger import Ledger
    from gateway.usage.report import render, totals

    ledger = Ledger(config.usage, Metrics())  # its engine only: no writer thread is started
    try:
        body, _ = render(totals(ledger.engine(), query), query)
    except InvalidRequest as exc:
        print(f"image-gateway: {exc.message}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"image-gateway: the usage database cannot be read ({describe_error(exc)})", file=sys.stderr)
        return 1
    finally:
        ledger.close(0)
    sys.stdout.write(body.decode() + ("\n" if query.format == "json" else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="image-gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--config", help="config file (default: $GATEWAY_CONFIG or config/gateway.yaml)")
    serve.add_argument(
        "--emulator", action="store_true", help="serve providers whose kind has one from its built-in emulator"
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        default=os.environ.get("GATEWAY_WORKERS") or "1",
        help="worker processes, e.g. one per core (default: $GATEWAY_WORKERS or 1); see README 'Workers'",
    )
    serve.add_argument("--worker-fd", type=int, help=argparse.SUPPRESS)  # set by the supervisor for its workers
    serve.set_defaults(func=cmd_serve)

    for kind in registry.registered():
        if kind.commands is not None:
            kind.commands(sub, _serve_app)

    check = sub.add_parser("check-config", help="validate a config file without starting")
    check.add_argument("path", nargs="?", help="config file (default: $GATEWAY_CONFIG or config/gateway.yaml)")
    check.set_defaults(func=cmd_check_config)

    keys = sub.add_parser("keys", help="show each provider key's status (never the key)")
    keys.add_argument("--config", help="config file (default: $GATEWAY_CONFIG or config/gateway.yaml)")
    keys.set_defaults(func=cmd_keys)

    usage = sub.add_parser("usage", help="usage totals from the usage ledger (as GET /admin/usage)")
    usage.add_argument("--from", dest="start", help="ISO date or datetime, UTC unless it says otherwise")
    usage.add_argument("--to", dest="end", help="ISO date (that day included) or datetime (excluded)")
    usage.add_argument("--group-by", dest="group_by", help="any of key,model,provider,day (default: all four)")
    usage.add_argument("--format", choices=("json", "csv"), default="json")
    usage.add_argument("--config", help="config file (default: $GATEWAY_CONFIG or config/gateway.yaml)")
    usage.set_defaults(func=cmd_usage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
