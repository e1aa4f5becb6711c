"""Shared pieces of the benchmarks: a load generator and process measurements."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

__all__ = ["Round", "Side", "peak_rss_mib", "run_round"]


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
events {{ worker_connections 8192; }}
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
