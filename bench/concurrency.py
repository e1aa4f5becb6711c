"""Many async image requests at once: can the gateway hold them, and what does it cost?

Starts the DashScope emulator with a 5 s task latency and the gateway in front of
it, then sends N concurrent requests for an async model (wanx2.1-t2i-turbo:
submit, then poll) for each N in --levels. For each level it prints successes,
errors, the gateway's peak RSS, upstream polls per image (from the emulator's own
counters) and the latency the gateway adds on top of the task's 5 s.

Task polls are held to DashScope's 20 queries per second per key (--poll-qps), so
at large N the polls themselves become the bottleneck: that is the real limit of
one DashScope key, and the numbers show it. Run ``--poll-qps 2000`` to see the
gateway's own capacity. Run: ``.venv/bin/python bench/concurrency.py``.

Then ``--in-flight`` (default 10,000) sync requests at once against a 2 s upstream
(nginx+echo when installed, else the emulator), direct and through the gateway:
successes, time and the gateway's peak RSS. ``--in-flight 0`` skips it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import aiohttp
import httpx
from common import SYNC_CONFIG, Side, in_flight, peak_rss_mib, run_round, slow_upstream, sync_sides

from tests.servers import Server, new_key, start_emulator, start_gateway

MODEL = "wanx2.1-t2i-turbo"
CONFIG = """
default_provider: dashscope
providers:
  dashscope:
    kind: dashscope
    region: cn
    base_url: "${DASHSCOPE_BASE_URL}"
    api_key: "${DASHSCOPE_API_KEY}"
    # As if the account's task concurrency had been raised: measure the gateway, not the quota.
    pacing: {documented_limits: false, poll_qps: %(poll_qps)s, queue_size: 10000}
upstream: {deadline_seconds: 600}
"""


def polls_and_images(emulator: Server) -> tuple[int, int]:
    stats = httpx.get(emulator.url + "/__emulator__/stats", timeout=30).json()
    return sum(stats["polls"].values()), stats["tasks_created"]


async def level(gateway: Server, emulator: Server, requests: int, latency: float) -> None:
    side = Side(
        "gateway",
        gateway.url + "/v1/images/generations",
        {"model": MODEL, "prompt": "a fox in the snow", "size": "1024x1024"},
        {},
        vary="prompt",
    )
    polls_before, tasks_before = polls_and_images(emulator)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=900)) as session:
        result = await run_round(session, side, requests, requests)
    polls, tasks = polls_and_images(emulator)
    images = max(1, tasks - tasks_before)
    added = [max(0.0, x - latency) for x in result.latencies]
    p50 = statistics.median(added) if added else float("nan")
    p99 = sorted(added)[int(0.99 * (len(added) - 1))] if added else float("nan")
    print(
        f"{requests:>5} concurrent: {len(result.latencies)} ok, {result.failures} errors {result.statuses} | "
        f"wall {result.seconds:6.1f} s | added latency p50 {p50:6.2f} s p99 {p99:6.2f} s | "
        f"polls/image {(polls - polls_before) / images:4.1f} | "
        f"gateway peak RSS {peak_rss_mib(gateway.process.pid):.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="100,500,1000,2000", help="concurrent requests per level")
    parser.add_argument("--latency", type=float, default=5.0, help="emulator task latency, seconds")
    parser.add_argument("--poll-qps", type=float, default=20.0, help="task polls per second per key")
    parser.add_argument("--in-flight", type=int, default=10_000, help="sync requests at once against a 2 s upstream")
    parser.add_argument("--upstream", choices=["auto", "nginx", "emulator"], default="auto")
    args = parser.parse_args()
    key = new_key()
    if args.levels:
        async_levels(args, key)
    if args.in_flight:
        upstream = slow_upstream(args.upstream, key)
        gateway = start_gateway({"DASHSCOPE_BASE_URL": upstream.url, "DASHSCOPE_API_KEY": key}, SYNC_CONFIG)
        try:
            print(f"{args.in_flight} in flight, sync qwen-image-2.0, {type(upstream).__name__} upstream, 2 s latency")
            asyncio.run(in_flight(*sync_sides(upstream, gateway, key), gateway, args.in_flight))
        finally:
            gateway.stop()
            upstream.stop()


def async_levels(args: argparse.Namespace, key: str) -> None:
    emulator = start_emulator("cn", key, latency=args.latency, pending=0.0)
    gateway = start_gateway(
        {"DASHSCOPE_BASE_URL": emulator.url, "DASHSCOPE_API_KEY": key}, CONFIG % {"poll_qps": args.poll_qps}
    )
    try:
        print(f"model {MODEL} (async), emulator task latency {args.latency:g} s, poll limit {args.poll_qps:g}/s")
        for requests in (int(x) for x in args.levels.split(",")):
            asyncio.run(level(gateway, emulator, requests, args.latency))
    finally:
        gateway.stop()
        emulator.stop()


if __name__ == "__main__":
    main()
