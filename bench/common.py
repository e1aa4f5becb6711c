"""Shared pieces of the benchmarks: a load generator and process measurements."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import Server, start_emulator

__all__ = [
    "SYNC_CONFIG",
    "SYNC_MODEL",
    "Nginx",
    "Round",
    "Side",
    "in_flight",
    "peak_rss_mib",
    "run_round",
    "slow_upstream",
    "sync_sides",
]


@dataclass
class Side:
    name: str
    url: str
    body: dict[str, object]
    headers: dict[str, str]
    #: A body field made distinct per request (the gateway coalesces identical requests in flight).
    vary: str | None = None

    def body_for(self, index: int) -> dict[str, object]:
        if self.vary is None:
            return self.body
        return {**self.body, self.vary: f"{self.body[self.vary]} #{index}"}


@dataclass
class Round:
    seconds: float
    latencies: list[float]
    failures: int
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_round(session: aiohttp.ClientSession, side: Side, total: int, concurrency: int) -> Round:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    failures = 0
    queue = iter(range(total))

    async def worker() -> None:
        nonlocal failures
        for index in queue:
            start = time.perf_counter()
            try:
                async with session.post(side.url, json=side.body_for(index), headers=side.headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                latencies.append(time.perf_counter() - start)
            else:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Round(time.perf_counter() - started, latencies, failures, statuses)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


SYNC_ANSWER = (
    '{"output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":'
    '[{"image":"https://dashscope-result-bj.oss-cn-beijing.aliyuncs.com/bench/1.png"}]}}]},'
    '"usage":{"width":1024,"height":1024,"image_count":1},"request_id":"bench"}'
)


class Nginx:
    """nginx with the echo module as a fixed-latency DashScope sync endpoint (the upstream the
    issue's reference figures were measured against). None when nginx is not installed."""

    def __init__(self, latency: float) -> None:
        import shutil
        import subprocess
        import tempfile

        from tests.servers import free_port

        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        module = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
        sleep = f"echo_sleep {latency};" if latency else ""
        (self.root / "nginx.conf").write_text(f"""
load_module {module};
worker_processes 1;
error_log {self.root}/error.log;
pid {self.root}/nginx.pid;
worker_rlimit_nofile 20000;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path {self.root};
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
    location / {{
      default_type application/json;
      {sleep}
      echo '{SYNC_ANSWER}';
    }}
  }}
}}
""")
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen([binary, "-p", str(self.root), "-c", "nginx.conf", "-g", "daemon off;"])
        time.sleep(0.5)
        if self.process.poll() is not None:
            raise RuntimeError("nginx did not start")
        self.url = f"http://127.0.0.1:{self.port}"

    @staticmethod
    def available() -> bool:
        import shutil

        return (
            bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists())
            and Path("/usr/lib/nginx/modules/ngx_http_echo_module.so").exists()
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


SYNC_MODEL = "qwen-image-2.0"
DIRECT_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
SYNC_CONFIG = """
default_provider: dashscope
providers:
  dashscope:
    kind: dashscope
    region: cn
    base_url: "${DASHSCOPE_BASE_URL}"
    api_key: "${DASHSCOPE_API_KEY}"
    pacing: {documented_limits: false}   # measure the gateway, not DashScope's quotas
"""


def sync_sides(emulator: Server | Nginx, gateway: Server, key: str) -> tuple[Side, Side]:
    direct = Side(
        "direct",
        emulator.url + DIRECT_PATH,
        {
            "model": SYNC_MODEL,
            "input": {"messages": [{"role": "user", "content": [{"text": "a fox"}]}]},
            "parameters": {"n": 1, "size": "1024*1024"},
        },
        {"Authorization": f"Bearer {key}"},
    )
    via = Side(
        "gateway",
        gateway.url + "/v1/images/generations",
        {"model": SYNC_MODEL, "prompt": "a fox", "size": "1024x1024"},
        {"Authorization": "Bearer bench"},
        vary="prompt",  # identical requests in flight would share one upstream call
    )
    return direct, via


async def in_flight(direct: Side, via: Side, gateway: Server, requests: int) -> None:
    """``requests`` at once against the slow upstream, direct and then through the gateway."""
    results = {}
    for side in (direct, via):
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=600)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            results[side.name] = await run_round(session, side, requests, requests)
    d, g = results["direct"], results["gateway"]
    print(
        f"{requests} in flight, 2 s upstream: direct {d.seconds:.2f} s ({d.failures} failed) | "
        f"gateway {g.seconds:.2f} s ({g.failures} failed), ratio {g.seconds / d.seconds:.2f} | "
        f"slowest gateway request {max(g.latencies, default=float('nan')):.2f} s | "
        f"gateway peak RSS {peak_rss_mib(gateway.process.pid):.0f} MiB"
    )


def slow_upstream(choice: str, key: str, latency: float = 2.0) -> Nginx | Server:
    """The 2 s sync upstream of the in-flight cases: nginx+echo when installed (or asked for), else the emulator."""
    if choice == "nginx" or (choice == "auto" and Nginx.available()):
        return Nginx(latency)
    return start_emulator("cn", key, latency=latency, pending=0.0)
