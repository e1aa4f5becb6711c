"""Throughput of one gateway worker against several, in one run: ``measure()`` returns the figures.

The upstream is nginx answering as a DashScope sync endpoint at once (``Nginx(0)``, the
instant upstream of bench/overhead.py), so the gateway's own CPU is what limits it. Gateways
with 1 and with N workers run side by side; their rounds alternate (1, N, 1, N, ...) and the
medians are compared, so a noisy neighbour hits both alike.

The load generator shares the machine's cores with the gateway. ``wrk`` (C, one thread) is
used when installed, as it takes far less CPU per request than a Python client; otherwise
the aiohttp generator of bench/common.py. Besides requests per second, each round records
the CPU time the gateway's processes used per request (from /proc), which does not depend
on who else wants the cores: a pod with a core per worker scales by roughly
``workers * (CPU per request with 1) / (CPU per request with N)``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from common import SYNC_CONFIG, Nginx, run_round, sync_sides

from tests.servers import Server, new_key, start_gateway

__all__ = ["Figures", "cpu_seconds", "measure", "state_op_cost"]

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of ``pid`` and all its descendants, living and reaped."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime, stime, cutime, cstime (fields 14-17; after the ')' split they start at index 11)
        total += sum(int(v) for v in fields[11:15]) / _TICKS
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(cpu_seconds(int(child)) for child in children)


@dataclass
class Figures:
    concurrency: int
    generator: str
    #: Per worker count: requests per second of each round.
    rps: dict[int, list[float]] = field(default_factory=dict)
    #: Per worker count: the gateway's CPU milliseconds per request of each round.
    cpu_ms: dict[int, list[float]] = field(default_factory=dict)
    failures: dict[int, int] = field(default_factory=dict)
    #: Seconds from ``serve`` to every worker answering, per worker count.
    start_seconds: dict[int, float] = field(default_factory=dict)

    def median_rps(self, workers: int) -> float:
        return statistics.median(self.rps[workers])

    def median_cpu_ms(self, workers: int) -> float:
        return statistics.median(self.cpu_ms[workers])

    def summary(self) -> str:
        counts = sorted(self.rps)
        base = counts[0]
        lines = [f"c={self.concurrency}, load generator: {self.generator}, instant nginx upstream"]
        for n in counts:
            scale = self.median_cpu_ms(base) / self.median_cpu_ms(n) * n / base
            ratio = self.median_rps(n) / self.median_rps(base)
            lines.append(
                f"  {n} worker(s): {self.median_rps(n):7.0f} req/s (x{ratio:.2f}) | "
                f"gateway CPU {self.median_cpu_ms(n):.3f} ms/request (one core per worker: x{scale:.2f}) | "
                f"failures {self.failures[n]} | start to all workers answering {self.start_seconds[n]:.2f} s"
            )
        return "\n".join(lines)


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
local counter = 0
request = function()
  counter = counter + 1
  -- a distinct prompt per request: identical requests in flight would share one call
  return wrk.format(nil, nil, nil, '{"model":"%s","prompt":"a fox #' .. counter .. '","size":"1024x1024"}')
end
"""


def _wrk(url: str, concurrency: int, seconds: float, model: str) -> tuple[float, int, int]:
    """requests/s, requests, failures (non-2xx and socket errors) of one wrk round."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % model)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "-s", script.name, url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    failed = sum(int(m) for m in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        failed += sum(int(g) for g in errors.groups())
    return rps, total, failed


def _start(env: dict[str, str], workers: int) -> tuple[Server, float]:
    started = time.monotonic()
    server = start_gateway(env, SYNC_CONFIG, workers=workers)
    return server, time.monotonic() - started


def measure(
    workers: tuple[int, ...] = (1, 2),
    *,
    concurrency: int = 32,
    seconds: float = 5.0,
    rounds: int = 3,
    generator: str = "auto",
) -> Figures:
    """Alternating rounds at ``concurrency`` against gateways of each worker count."""
    use_wrk = generator == "wrk" or (generator == "auto" and shutil.which("wrk") is not None)
    if not Nginx.available():
        raise RuntimeError("nginx with the echo module is needed (make bench installs it)")
    nginx = Nginx(0)
    key = new_key()
    env = {"DASHSCOPE_BASE_URL": nginx.url, "DASHSCOPE_API_KEY": key}
    figures = Figures(concurrency, "wrk -t1" if use_wrk else "aiohttp (bench/common.py)")
    gateways: dict[int, Server] = {}
    try:
        for n in workers:
            gateways[n], figures.start_seconds[n] = _start(env, n)
            figures.rps[n], figures.cpu_ms[n], figures.failures[n] = [], [], 0
        for n, gateway in gateways.items():  # warm up
            _round(figures, n, gateway, nginx, key, use_wrk, concurrency, 1.0, record=False)
        for _ in range(rounds):
            for n, gateway in gateways.items():
                _round(figures, n, gateway, nginx, key, use_wrk, concurrency, seconds)
    finally:
        for gateway in gateways.values():
            gateway.stop()
        nginx.stop()
    return figures


def _round(
    figures: Figures,
    n: int,
    gateway: Server,
    nginx: Nginx,
    key: str,
    use_wrk: bool,
    concurrency: int,
    seconds: float,
    *,
    record: bool = True,
) -> None:
    before = cpu_seconds(gateway.process.pid)
    if use_wrk:
        from common import SYNC_MODEL

        rps, total, failed = _wrk(gateway.url + "/v1/images/generations", concurrency, seconds, SYNC_MODEL)
    else:
        _, via = sync_sides(nginx, gateway, key)

        async def go() -> tuple[float, int, int]:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                result = await run_round(session, via, int(seconds * 1500), concurrency)
            return result.rps, len(result.latencies) + result.failures, result.failures

        rps, total, failed = asyncio.run(go())
    used = cpu_seconds(gateway.process.pid) - before
    if record:
        figures.rps[n].append(rps)
        figures.cpu_ms[n].append(used / max(1, total) * 1000)
        figures.failures[n] += failed


def _state_ops(path: str, concurrency: int, count: int) -> float:
    """CPU microseconds per SqliteState operation (admit, claim, put, get, delete in turn)."""
    from gateway.state import SqliteState

    async def main() -> float:
        state = SqliteState(path)
        jobs = iter(range(count))
        pid = os.getpid()

        async def one() -> None:
            for i in jobs:
                await state.admit(f"key/{i % 50}", 10**9, 60.0)
                await state.claim(f"flight/{pid}-{i}", "owner", 30.0)
                await state.put(f"answer/{pid}-{i}", b"x" * 1200, 60.0)
                await state.get(f"answer/{pid}-{i}")
                await state.delete(f"flight/{pid}-{i}")

        started = time.process_time()
        await asyncio.gather(*(one() for _ in range(concurrency)))
        used = time.process_time() - started
        state.close()
        return used / (count * 5) * 1e6

    return asyncio.run(main())


def state_op_cost(count: int = 4000) -> dict[str, float]:
    """CPU microseconds per SqliteState operation: one process awaiting one at a time, and two
    processes with 32 concurrent callers each (the operations of one loop turn share a transaction)."""
    import multiprocessing

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as directory:
        results["1 process, 1 caller"] = _state_ops(f"{directory}/a.db", 1, count)
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            pair = pool.starmap(_state_ops, [(f"{directory}/b.db", 32, count)] * 2)
        results["2 processes, 32 callers each"] = sum(pair) / 2
    return results


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, e.g. 1,2")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--generator", choices=["auto", "wrk", "aiohttp"], default="auto")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--state", action="store_true", help="also the SqliteState operation cost")
    args = parser.parse_args()
    if args.state:
        for case, micros in state_op_cost().items():
            print(f"SqliteState, {case}: {micros:.1f} us CPU per operation")
    result = measure(
        tuple(int(n) for n in args.workers.split(",")),
        concurrency=args.concurrency,
        seconds=args.seconds,
        rounds=args.rounds,
        generator=args.generator,
    )
    print(json.dumps(result.__dict__) if args.json else result.summary())
