"""What the gateway adds on top of a direct DashScope call, measured in one run.

Starts the DashScope emulator and the gateway as real processes on loopback and
drives both with the same aiohttp load generator:

1. a sync model (qwen-image-2.0) with zero upstream latency, at concurrency 1
   and 32: requests per second and added p50/p99 latency, gateway vs direct;
2. 1,000 requests in flight at once against a 2-second upstream: time to finish,
   failures and the gateway's peak RSS, gateway vs direct.

Direct and gateway rounds alternate (A/B/A/B) and the medians are compared, so
a noisy neighbour hits both sides alike. Run: ``make bench`` or
``.venv/bin/python bench/overhead.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import aiohttp
from common import SYNC_CONFIG, SYNC_MODEL, Nginx, Round, Side, in_flight, run_round, slow_upstream, sync_sides

from tests.servers import Server, new_key, start_emulator, start_gateway

MODEL = SYNC_MODEL


async def throughput(direct: Side, via: Side, concurrency: int, total: int, rounds: int) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await run_round(session, direct, 200, concurrency)  # warm up both sides
        await run_round(session, via, 200, concurrency)
        results: dict[str, list[Round]] = {"direct": [], "gateway": []}
        for _ in range(rounds):
            for side in (direct, via):
                results[side.name].append(await run_round(session, side, total, concurrency))
    d, g = results["direct"], results["gateway"]
    rps_d, rps_g = statistics.median(r.rps for r in d), statistics.median(r.rps for r in g)
    p50_d, p50_g = statistics.median(r.pct(0.5) for r in d), statistics.median(r.pct(0.5) for r in g)
    p99_d, p99_g = statistics.median(r.pct(0.99) for r in d), statistics.median(r.pct(0.99) for r in g)
    fails = sum(r.failures for r in d + g)
    print(
        f"concurrency {concurrency:>3}: req/s direct {rps_d:8.0f}  gateway {rps_g:8.0f}  ratio {rps_g / rps_d:5.2f} | "
        f"p50 {p50_d:6.2f} -> {p50_g:6.2f} ms (+{p50_g - p50_d:.2f}, x{p50_g / p50_d:.2f}) | "
        f"p99 {p99_d:6.2f} -> {p99_g:6.2f} ms (+{p99_g - p99_d:.2f}, x{p99_g / p99_d:.2f}) | failures {fails}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--in-flight-runs", type=int, default=1, help="repeat the in-flight case")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--upstream",
        choices=["auto", "nginx", "emulator"],
        default="auto",
        help="the 2 s upstream of the in-flight case: nginx+echo (as in the reference figures; "
        "apt-get install nginx libnginx-mod-http-echo) or the Python emulator (auto: nginx when installed)",
    )
    args = parser.parse_args()
    key = new_key()
    servers: list[Server] = []
    try:
        if not args.skip_throughput:
            fast = start_emulator("cn", key, latency=0.0, pending=0.0)
            servers.append(fast)
            gateway = start_gateway({"DASHSCOPE_BASE_URL": fast.url, "DASHSCOPE_API_KEY": key}, SYNC_CONFIG)
            servers.append(gateway)
            direct, via = sync_sides(fast, gateway, key)
            print(f"model {MODEL} (sync), emulator latency 0 s, medians of {args.rounds} alternating rounds")
            asyncio.run(throughput(direct, via, 1, args.requests // 4, args.rounds))
            asyncio.run(throughput(direct, via, 32, args.requests, args.rounds))
        for _ in range(args.in_flight_runs):
            # fresh processes each time: no warm upstream connections to lean on
            upstream = slow_upstream(args.upstream, key)
            print(f"in-flight upstream: {'nginx + echo_sleep 2' if isinstance(upstream, Nginx) else 'emulator, 2 s'}")
            slow_gateway = start_gateway({"DASHSCOPE_BASE_URL": upstream.url, "DASHSCOPE_API_KEY": key}, SYNC_CONFIG)
            direct, via = sync_sides(upstream, slow_gateway, key)
            try:
                asyncio.run(in_flight(direct, via, slow_gateway, args.in_flight))
            finally:
                upstream.stop()
                slow_gateway.stop()
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
