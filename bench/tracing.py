"""What tracing costs: the gateway with tracing off, and on (exporting every span over
OTLP/HTTP to a collector on loopback that accepts and drops them), against a direct call.

Starts the emulator (zero latency, the sync model) and two gateways as real processes on
loopback, then alternates rounds between direct, off and on (A/B/C/A/B/C) at concurrency
1 and 32. ``--baseline DIR`` adds a gateway run from another checkout (e.g. a worktree of
the commit before tracing existed) to show that "off" costs nothing measurable.
Run: ``.venv/bin/python bench/tracing.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
from common import SYNC_CONFIG, Round, Side, run_round, sync_sides

from tests.servers import Server, new_key, start_emulator, start_gateway


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    spans_bytes = 0

    def do_POST(self) -> None:
        _Sink.spans_bytes += len(self.rfile.read(int(self.headers["content-length"])))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _gateway_from(tree: Path, env: dict[str, str]) -> Server:
    """A gateway started from another checkout (its own code, this venv)."""
    previous = os.getcwd()
    os.chdir(tree)  # `python -m gateway` imports the package from the working directory
    try:
        return start_gateway({**env, "PYTHONPATH": str(tree)}, SYNC_CONFIG)
    finally:
        os.chdir(previous)


async def compare(sides: list[Side], concurrency: int, total: int, rounds: int) -> dict[str, list[Round]]:
    connector = aiohttp.TCPConnector(limit=0)
    results: dict[str, list[Round]] = {side.name: [] for side in sides}
    async with aiohttp.ClientSession(connector=connector) as session:
        for side in sides:
            await run_round(session, side, 200, concurrency)  # warm-up
        for _ in range(rounds):
            for side in sides:
                results[side.name].append(await run_round(session, side, total, concurrency))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per round at c=32 (c=1: a quarter)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="a checkout to run as the 'before' gateway")
    args = parser.parse_args()
    key = new_key()
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    servers: list[Server] = []
    try:
        emulator = start_emulator("cn", key, latency=0.0, pending=0.0)
        servers.append(emulator)
        env = {"DASHSCOPE_BASE_URL": emulator.url, "DASHSCOPE_API_KEY": key}
        off = start_gateway(env, SYNC_CONFIG)
        endpoint = f"http://127.0.0.1:{sink.server_address[1]}/v1/traces"
        on = start_gateway({**env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint}, SYNC_CONFIG)
        servers += [off, on]
        direct, via_off = sync_sides(emulator, off, key)
        via_off.name = "tracing off"
        via_on = sync_sides(emulator, on, key)[1]
        via_on.name = "tracing on"
        sides = [direct, via_off, via_on]
        if args.baseline:
            before = _gateway_from(args.baseline, env)
            servers.append(before)
            via_before = sync_sides(emulator, before, key)[1]
            via_before.name = "before tracing"
            sides.insert(1, via_before)
        print(f"medians of {args.rounds} alternating rounds, emulator latency 0 s")
        for concurrency, total in ((1, args.requests // 4), (32, args.requests)):
            results = asyncio.run(compare(sides, concurrency, total, args.rounds))
            p50 = {name: statistics.median(r.pct(0.5) for r in rounds) for name, rounds in results.items()}
            rps = {name: statistics.median(r.rps for r in rounds) for name, rounds in results.items()}
            fails = sum(r.failures for rounds in results.values() for r in rounds)
            cells = [
                f"{name} {rps[name]:.0f} req/s, p50 {p50[name]:.2f} ms (+{p50[name] - p50['direct']:.2f})"
                for name in results
            ]
            print(f"c={concurrency:>2}: " + " | ".join(cells) + f" | failures {fails}")
        print(f"spans exported to the collector: {_Sink.spans_bytes / 1024:.0f} KiB of OTLP protobuf")
    finally:
        for server in servers:
            server.stop()
        sink.shutdown()


if __name__ == "__main__":
    sys.exit(main())
