"""Shared pieces of the benchmarks: a load generator and process measurements."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import Server, start_emulator

__all__ = [
    "ASYNC_CONFIG",
    "ASYNC_MODEL",
    "SYNC_CONFIG",
    "SYNC_MODEL",
    "InFlight",
    "Nginx",
    "Round",
    "Side",
    "async_in_flight",
    "async_sides",
    "in_flight",
    "peak_rss_mib",
    "pin",
    "run_async_round",
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


async def timed_round(one: Callable[[int], Awaitable[int]], total: int, concurrency: int) -> Round:
    """``total`` calls of ``one(index)`` (an HTTP status) by ``concurrency`` workers, timed."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    failures = 0
    queue = iter(range(total))

    async def worker() -> None:
        nonlocal failures
        for index in queue:
            start = time.perf_counter()
            try:
                status = await one(index)
            except (aiohttp.ClientError, TimeoutError, KeyError, ValueError):
                status = 0
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                latencies.append(time.perf_counter() - start)
            else:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Round(time.perf_counter() - started, latencies, failures, statuses)


async def run_round(session: aiohttp.ClientSession, side: Side, total: int, concurrency: int) -> Round:
    async def one(index: int) -> int:
        async with session.post(side.url, json=side.body_for(index), headers=side.headers) as response:
            await response.read()
            return response.status

    return await timed_round(one, total, concurrency)


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


#: A task's id carries the second it was created in: ``t<unix second>-<nginx request id>``.
ASYNC_SUBMIT_ANSWER = (
    '{"output":{"task_id":"t${now_s}-${request_id}","task_status":"PENDING"},"request_id":"${request_id}"}'
)
ASYNC_RUNNING_ANSWER = '{"output":{"task_id":"${task}","task_status":"RUNNING"},"request_id":"${request_id}"}'
ASYNC_DONE_ANSWER = (
    '{"output":{"task_id":"${task}","task_status":"SUCCEEDED","results":'
    '[{"url":"https://dashscope-result-bj.oss-cn-beijing.aliyuncs.com/bench/1.png"}]},'
    '"usage":{"image_count":1},"request_id":"${request_id}"}'
)


def _task_running_map() -> str:
    """nginx ``map`` lines: a task runs through the rest of its creation second and the next
    one (1 to 2 s), then has succeeded. Captures compare the seconds: no state, no arithmetic."""
    lines = [r'"~^(\d+):\1$" 1;']  # the same second
    for digit in range(9):  # the next second, last digit d -> d+1, or d9 -> (d+1)0
        lines.append(rf'"~^(\d*){digit}:\g{{1}}{digit + 1}$" 1;')
        lines.append(rf'"~^(\d*){digit}9:\g{{1}}{digit + 1}0$" 1;')
    return "\n    ".join(lines)


class Nginx:
    """nginx with the echo module as a fixed-latency DashScope endpoint (the upstream the
    issue's reference figures were measured against). None when nginx is not installed.

    Sync calls (any path) answer images after ``latency``; the async text-to-image submit
    answers a task at once, and polls of it (``GET /api/v1/tasks/<id>``) answer RUNNING for
    1 to 2 s after the submit and SUCCEEDED with a result URL after that."""

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
  map $msec $now_s {{ "~^(\\d+)\\." $1; }}
  map "$born:$now_s" $running {{
    default 0;
    {_task_running_map()}
  }}
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
    location / {{
      default_type application/json;
      {sleep}
      echo '{SYNC_ANSWER}';
    }}
    location = {ASYNC_PATH} {{
      default_type application/json;
      echo '{ASYNC_SUBMIT_ANSWER}';
    }}
    location ~ ^/api/v1/tasks/(?<task>t(?<born>\\d+)-[0-9a-f]+)$ {{
      default_type application/json;
      if ($running) {{ echo '{ASYNC_RUNNING_ANSWER}'; }}
      if ($running = 0) {{ echo '{ASYNC_DONE_ANSWER}'; }}
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
ASYNC_MODEL = "wan2.5-t2i-preview"
ASYNC_PATH = "/api/v1/services/aigc/text2image/image-synthesis"
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


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (nginx's workers, a gateway's worker processes)."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                queue += [int(child) for child in (task / "children").read_text().split()]
    return pids


def pin(pid: int, cores: set[int]) -> None:
    """Pin ``pid`` and its descendants to ``cores`` (when the machine has them): on a small
    machine the servers share core 0 and the load generator has core 1 to itself."""
    available = os.sched_getaffinity(0) | set(range(os.cpu_count() or 1))
    if not cores <= available or len(available) < 2:
        return
    for one in _tree(pid):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(one, cores)


SERVER_CORES = {0}
CLIENT_CORES = {1}


@dataclass
class InFlight:
    """One in-flight case: the same client at once against the upstream directly and through the gateway."""

    requests: int
    direct: Round
    gateway: Round
    #: The gateway process's (and its workers') peak resident memory.
    peak_rss_mib: float
    what: str = "sync"
    #: The bare passthrough (bench/floor_app.py) under the same load, when measured.
    floor: Round | None = None
    floor_rss_mib: float = float("nan")

    @property
    def succeeded(self) -> int:
        return self.gateway.statuses.get(200, 0)

    @property
    def seconds(self) -> float:
        return self.gateway.seconds

    @property
    def ratio(self) -> float:
        return self.gateway.seconds / self.direct.seconds

    @property
    def ok(self) -> bool:
        return self.succeeded == self.requests and self.direct.failures == 0

    def __str__(self) -> str:
        d, g, f = self.direct, self.gateway, self.floor
        line = f"{self.requests} in flight ({self.what}): direct {d.seconds:.2f} s ({d.failures} failed)"
        if f is not None:
            line += (
                f" | floor {f.seconds:.2f} s ({f.failures} failed{_statuses(f)}), x{f.seconds / d.seconds:.2f} direct, "
                f"peak RSS {self.floor_rss_mib:.0f} MiB"
            )
        line += f" | gateway {g.seconds:.2f} s ({g.failures} failed{_statuses(g)}), x{self.ratio:.2f} direct"
        if f is not None:
            line += f", x{g.seconds / f.seconds:.2f} floor"
        slowest = max(g.latencies, default=float("nan"))
        line += f", slowest request {slowest:.2f} s, peak RSS {self.peak_rss_mib:.0f} MiB"
        if f is not None:
            line += f" (x{self.peak_rss_mib / self.floor_rss_mib:.2f} floor)"
        return line


def _statuses(r: Round) -> str:
    bad = {status: count for status, count in sorted(r.statuses.items()) if status != 200}
    return ": " + ", ".join(f"{count}x HTTP {status or 'error'}" for status, count in bad.items()) if bad else ""


def tree_peak_rss_mib(pid: int) -> float:
    return sum(peak_rss_mib(one) for one in _tree(pid))


async def _at_once(side: Side, requests: int, run: Callable[..., Awaitable[Round]] | None = None) -> Round:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        return await (run or run_round)(session, side, requests, requests)


async def in_flight(
    direct: Side,
    via: Side,
    gateway: Server,
    requests: int,
    *,
    pinned: bool = True,
    floor: tuple[Side, Server] | None = None,
) -> InFlight:
    """``requests`` at once against the slow upstream, direct and then through the gateway.

    ``pinned``: the gateway on core 0 (with the upstream, see :func:`slow_upstream`), this
    load generator on core 1, so neither side's CPU is taken by the other.
    ``floor``: the bare passthrough's side and server, measured between the two and stopped
    before the gateway's turn (its idle pool would hold thousands of upstream connections)."""
    return await _in_flight(direct, via, gateway, requests, "sync", None, pinned, floor)


async def _in_flight(
    direct: Side,
    via: Side,
    gateway: Server,
    requests: int,
    what: str,
    direct_run: Callable[..., Awaitable[Round]] | None,
    pinned: bool,
    floor: tuple[Side, Server] | None = None,
) -> InFlight:
    mine = os.sched_getaffinity(0)
    if pinned:
        pin(gateway.process.pid, SERVER_CORES)
        if floor is not None:
            pin(floor[1].process.pid, SERVER_CORES)
        pin(os.getpid(), CLIENT_CORES)
    f, floor_rss = None, float("nan")
    try:
        d = await _at_once(direct, requests, direct_run)
        if floor is not None:
            f = await _at_once(floor[0], requests)
            floor_rss = tree_peak_rss_mib(floor[1].process.pid)
            floor[1].stop()
        g = await _at_once(via, requests)
    finally:
        os.sched_setaffinity(0, mine)
    result = InFlight(requests, d, g, tree_peak_rss_mib(gateway.process.pid), what, f, floor_rss)
    print(result, flush=True)
    return result


ASYNC_CONFIG = SYNC_CONFIG.replace(
    "pacing: {documented_limits: false}",
    # DashScope's 20 task polls per second per key would make 10,000 tasks a 20-minute
    # wait: measure the gateway's polling, not that quota.
    "pacing: {documented_limits: false, poll_qps: 100000}",
)
#: The gateway's default poll schedule (UpstreamSettings.poll_initial, poll_max, growth 1.5).
POLL_INITIAL, POLL_MAX = 0.5, 5.0


def async_sides(upstream: Server | Nginx, gateway: Server, key: str) -> tuple[Side, Side]:
    """The async model's sides: the client submits and polls itself, or asks the gateway."""
    direct = Side(
        "direct",
        upstream.url + ASYNC_PATH,
        {"model": ASYNC_MODEL, "input": {"prompt": "a fox"}, "parameters": {"n": 1, "size": "1024*1024"}},
        {"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"},
    )
    via = Side(
        "gateway",
        gateway.url + "/v1/images/generations",
        {"model": ASYNC_MODEL, "prompt": "a fox", "size": "1024x1024"},
        {"Authorization": "Bearer bench"},
        vary="prompt",
    )
    return direct, via


async def run_async_round(session: aiohttp.ClientSession, side: Side, total: int, concurrency: int) -> Round:
    """Like :func:`run_round` for a direct async call: submit, then poll the task on the
    gateway's own schedule until it has succeeded."""
    base = side.url.split("/api/")[0]
    auth = {"Authorization": side.headers["Authorization"]}

    async def one(index: int) -> int:
        async with session.post(side.url, json=side.body_for(index), headers=side.headers) as response:
            answer = await response.json(content_type=None)
            if response.status != 200:
                return response.status
        task = answer["output"]["task_id"]
        interval = POLL_INITIAL
        while True:
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, POLL_MAX)
            async with session.get(f"{base}/api/v1/tasks/{task}", headers=auth) as response:
                answer = await response.json(content_type=None)
                if response.status != 200:
                    return response.status
            status = answer["output"]["task_status"]
            if status == "SUCCEEDED":
                return 200
            if status not in ("PENDING", "RUNNING"):
                return 500

    return await timed_round(one, total, concurrency)


async def async_in_flight(direct: Side, via: Side, gateway: Server, requests: int, *, pinned: bool = True) -> InFlight:
    """``requests`` async-model calls at once (see :func:`async_sides`): the client
    submitting and polling each task itself, then the gateway doing it for the client."""
    return await _in_flight(direct, via, gateway, requests, "async, polled", run_async_round, pinned)


def slow_upstream(choice: str, key: str, latency: float = 2.0, *, pinned: bool = True) -> Nginx | Server:
    """The 2 s sync upstream of the in-flight cases: nginx+echo when installed (or asked for), else the emulator.

    ``pinned``: on core 0, with the gateway (see :func:`in_flight`)."""
    if choice == "nginx" or (choice == "auto" and Nginx.available()):
        upstream: Nginx | Server = Nginx(latency)
    else:
        upstream = start_emulator("cn", key, latency=latency, pending=0.0)
    if pinned:
        pin(upstream.process.pid, SERVER_CORES)
    return upstream
