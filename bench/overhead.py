"""What the gateway adds on top of a direct DashScope call, all figures from one run.

The upstream is nginx with the echo module answering DashScope's sync call (instantly,
or after 2 s for the in-flight cases): ``apt-get install nginx libnginx-mod-http-echo``.
The load generator is wrk (``apt-get install wrk``) with a Lua script that makes every
prompt distinct, since identical requests in flight share one upstream call. The
in-flight cases use an aiohttp client, the same one for the direct and gateway sides.

Sides:

* **direct**: the load generator calling nginx itself;
* **floor**: a bare Litestar + aiohttp passthrough built here (bench/floor_app.py), what
  any Python gateway on this stack pays at least;
* **baseline**: the gateway as it was before the performance work (``--baseline REV``,
  checked out into a temporary git worktree), for "x times today's";
* **gateway**: this checkout.

Cases, each side's figure also given as a ratio to direct and to the floor:

1. c=1 and c=32 on one core: the servers (nginx included) on CPU 0, wrk on CPU 1.
   req/s, p50, the p50 added over direct, and the server's CPU time per request.
   Each round runs every side once, back to back, in a rotating order; each side's
   median over the rounds is shown, and the gateway against the baseline and direct
   also round by round (the median of those ratios), so a noisy neighbour's minute
   weighs on both sides of each comparison alike.
2. 1,000 and 10,000 requests in flight at once against the 2 s upstream: successes,
   time to the last answer (ratio to direct), the gateway's peak RSS.
3. Start: process start to the first image answer, and the RSS once ready and idle.
4. Workers: throughput at c=32 with ``--workers 1`` and ``--workers 2`` side by side (wrk
   and nginx share the two cores), and the scaling their CPU per request projects for a
   core per worker (bench/workers_common.py).
5. Time to image for streams and result storage: bench/streaming.py and
   bench/storage.py, run from here with fewer rounds.

Run: ``make bench`` or ``.venv/bin/python bench/overhead.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from common import (
    ASYNC_CONFIG,
    DIRECT_PATH,
    SYNC_CONFIG,
    SYNC_MODEL,
    Nginx,
    async_in_flight,
    async_sides,
    in_flight,
    sync_sides,
)

from gateway.cli import _raise_open_files_limit
from tests.servers import LOG_DIR, Server, free_port, new_key

ROOT = Path(__file__).resolve().parent.parent
#: main before issue 14's work: "today's" figures.
BASELINE = "82801e9"
CLIENT_KEY = "bench"


# ----------------------------------------------------------------------------- processes


def _pin(cpus: set[int]) -> None:
    os.sched_setaffinity(0, cpus)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (a multi-worker gateway's workers)."""
    found = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found += tree_pids(int(child))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


@dataclass
class Started:
    server: Server
    #: Process start to the first 200 on /v1/images/generations.
    first_answer: float
    #: RSS once ready, before any request (the supervisor and its workers).
    idle_rss: float
    #: RSS a second after the first answer (the usage ledger has opened its database).
    served_rss: float


def start_gateway_at(
    checkout: Path, upstream: str, key: str, workers: int = 1, python: str = sys.executable, config: str = SYNC_CONFIG
) -> Started:
    """The gateway of ``checkout`` (this one or the baseline's), timed to its first answer.

    ``python``: another interpreter with the gateway installed (the runtime-only venv)."""
    port = free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    stamp = f"bench-{checkout.name}-{port}"
    config_file = LOG_DIR / f"{stamp}.yaml"
    config_file.write_text(config)
    args = [python, "-m", "gateway", "serve", "--port", str(port), "--config", str(config_file)]
    if workers > 1:
        args += ["--workers", str(workers)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE", "GATEWAY_", "REDIS_URL"))}
    env.update(
        DASHSCOPE_BASE_URL=upstream,
        DASHSCOPE_API_KEY=key,
        GATEWAY_DATA_DIR=str(LOG_DIR / f"{stamp}-data"),
    )
    if python == sys.executable:
        env["PYTHONPATH"] = str(checkout)
    out, err = LOG_DIR / f"{stamp}.out", LOG_DIR / f"{stamp}.err"
    started = time.perf_counter()
    cwd = checkout if python == sys.executable else LOG_DIR
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=out.open("wb"), stderr=err.open("wb"))
    server = Server("gateway", process, f"http://127.0.0.1:{port}", [out, err])
    body = {"model": SYNC_MODEL, "prompt": "the first one", "size": "1024x1024"}
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    with httpx.Client(timeout=30) as client:  # the first answer may wait on a 2 s upstream
        while True:
            if process.poll() is not None or time.perf_counter() - started > 30:
                server.stop()
                raise RuntimeError(f"the gateway did not start:\n{server.output()[-2000:]}")
            try:
                if client.get(server.url + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.005)
        idle = sum(rss_mib(pid) for pid in tree_pids(process.pid))
        answer = client.post(server.url + "/v1/images/generations", json=body, headers=headers)
        first = time.perf_counter() - started
    if answer.status_code != 200:
        server.stop()
        raise RuntimeError(f"first answer {answer.status_code}: {answer.text[:300]}")
    time.sleep(1.5)
    return Started(server, first, idle, sum(rss_mib(pid) for pid in tree_pids(process.pid)))


def start_floor(upstream: str, key: str) -> Server:
    port = free_port()
    env = {**os.environ, "DASHSCOPE_BASE_URL": upstream, "DASHSCOPE_API_KEY": key, "PYTHONPATH": str(ROOT / "bench")}
    args = [sys.executable, "-m", "uvicorn", "floor_app:app", "--port", str(port), "--loop", "uvloop"]
    args += ["--http", "httptools", "--no-access-log", "--log-level", "warning", "--backlog", "4096"]
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    out = LOG_DIR / f"bench-floor-{port}.out"
    # As many open files as the gateway gives itself (the same function), for 10,000 connections each way.
    process = subprocess.Popen(
        args, env=env, stdout=out.open("wb"), stderr=subprocess.STDOUT, preexec_fn=_raise_open_files_limit
    )
    server = Server("floor", process, f"http://127.0.0.1:{port}", [out])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            body = {"model": SYNC_MODEL, "prompt": "warm", "size": "1024x1024"}
            if httpx.post(server.url + "/v1/images/generations", json=body, timeout=10).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"the floor did not start:\n{server.output()}")


def runtime_python(venv: Path) -> str:
    """A venv with the gateway installed as the Docker image installs it (``pip install .``:
    no test tools, whose packages Litestar would import at start), refreshed from this checkout."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True, capture_output=True)
    else:
        pip = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(ROOT)]
        subprocess.run(pip, check=True, capture_output=True)
    return str(python)


def baseline_checkout(rev: str) -> Path | None:
    """``rev`` checked out in a temporary worktree (None when git cannot)."""
    where = Path(tempfile.mkdtemp(prefix="bench-baseline-")) / "baseline"
    done = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), rev], capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"baseline {rev}: not available ({done.stderr.strip()[:200]})")
        return None
    return where


def drop_checkout(where: Path) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], capture_output=True)


# ---------------------------------------------------------------------------------- load


@dataclass
class Load:
    rps: float
    p50: float
    p99: float
    requests: int
    errors: int
    cpu_ms: float  # server CPU per request


_LUA = """
local n = 0
local prefix = "%(prefix)s"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  n = n + 1
  return wrk.format(nil, "%(path)s", nil, string.format('%(body)s', prefix, n))
end
"""


def _lua_for(kind: str, key: str) -> Path:
    if kind == "direct":
        path = DIRECT_PATH
        body = (
            f'{{"model":"{SYNC_MODEL}","input":{{"messages":[{{"role":"user","content":[{{"text":"a fox %s %d"}}]}}]}},'
            '"parameters":{"n":1,"size":"1024*1024"}}'
        )
    else:
        path, body = "/v1/images/generations", f'{{"model":"{SYNC_MODEL}","prompt":"a fox %s %d","size":"1024x1024"}}'
    script = LOG_DIR / f"wrk-{kind}-{secrets.token_hex(3)}.lua"
    script.write_text(_LUA % {"prefix": secrets.token_hex(4), "key": key, "path": path, "body": body})
    return script


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, script: Path, connections: int, seconds: float, pids: list[int], cpus: str) -> Load:
    before = cpu_seconds(pids)
    args = ["taskset", "-c", cpus, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "30s"]
    output = subprocess.run([*args, "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(pids) - before
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|connect|read|write|timeout):? (\d+)", output))
    latency = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)", output, re.M))
    return Load(
        float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        _ms(latency["50"]),
        _ms(latency["99"]),
        requests,
        errors,
        used * 1000 / max(requests, 1),
    )


@dataclass
class Target:
    name: str
    url: str
    script: Path
    pids: Callable[[], list[int]]


def ratio(value: float, reference: float | None) -> str:
    return f"x{value / reference:.2f}" if reference else "  -  "


def per_core(targets: list[Target], connections: int, seconds: float, rounds: int) -> tuple[dict[str, Load], Paired]:
    results: dict[str, list[Load]] = {t.name: [] for t in targets}
    for target in targets:  # warm up
        wrk(target.url, target.script, connections, 1, target.pids(), "1")
    for index in range(rounds):
        order = targets[index % len(targets) :] + targets[: index % len(targets)]
        for target in order:
            results[target.name].append(wrk(target.url, target.script, connections, seconds, target.pids(), "1"))
    medians = {
        name: Load(
            statistics.median(r.rps for r in loads),
            statistics.median(r.p50 for r in loads),
            statistics.median(r.p99 for r in loads),
            sum(r.requests for r in loads),
            sum(r.errors for r in loads),
            statistics.median(r.cpu_ms for r in loads),
        )
        for name, loads in results.items()
    }
    direct, floor = medians["direct"], medians.get("floor")
    print(f"\nc={connections}, one core (servers on CPU 0, wrk on CPU 1), medians of {rounds} rounds of {seconds:g} s")
    for name, m in medians.items():
        added = m.p50 - direct.p50
        line = (
            f"  {name:<9} {m.rps:8.0f} req/s ({ratio(m.rps, direct.rps)} direct, "
            f"{ratio(m.rps, floor and floor.rps)} floor) | p50 {m.p50:6.3f} ms, added {added:+.3f} ms"
            f" | p99 {m.p99:6.3f} ms"
        )
        if name != "direct":
            line += f" | server CPU {m.cpu_ms:.3f} ms/request ({ratio(m.cpu_ms, floor and floor.cpu_ms)} floor)"
        print(line + (f" | {m.errors} errors" if m.errors else ""))
    paired_figures = Paired(
        statistics.median(g.p50 - d.p50 for g, d in zip(results["gateway"], results["direct"], strict=True))
    )
    if "baseline" in results:
        gains = paired(results["gateway"], results["baseline"], lambda r: r.rps)
        paired_figures.gain = statistics.median(gains)
        paired_figures.cpu = statistics.median(paired(results["gateway"], results["baseline"], lambda r: r.cpu_ms))
        print(
            f"  gateway / baseline within each round: req/s x{paired_figures.gain:.2f} "
            f"(x{min(gains):.2f} to x{max(gains):.2f}), CPU per request x{paired_figures.cpu:.2f}"
        )
    return medians, paired_figures


@dataclass
class Paired:
    """Figures taken within each round, then the median over the rounds."""

    added_p50: float
    gain: float = float("nan")  # gateway / baseline req/s
    cpu: float = float("nan")  # gateway / baseline CPU per request


def paired(a: list[Load], b: list[Load], value: Callable[[Load], float]) -> list[float]:
    """``a``'s figure over ``b``'s, round by round: a round runs every side once, back to back,
    so a noisy neighbour's minute weighs on both sides of each ratio alike."""
    return [value(x) / value(y) for x, y in zip(a, b, strict=True)]


# ------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9, help="rounds of every side at c=1 and at c=32")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per wrk run")
    parser.add_argument("--in-flight", default="1000,10000", help="comma-separated request counts ('' skips)")
    parser.add_argument("--polled", default="10000", help="async-model tasks at once, comma-separated ('' skips)")
    parser.add_argument("--baseline", default=BASELINE, help="git revision of 'today' ('' skips)")
    parser.add_argument(
        "--runtime-venv",
        type=Path,
        default=Path(tempfile.gettempdir()) / "image-gateway-bench-runtime",
        help="venv for the start and idle-RSS figures as installed in production (made when missing)",
    )
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument("--skip-time-to-image", action="store_true")
    args = parser.parse_args()
    if not (Nginx.available() and shutil.which("wrk")):
        sys.exit("needs nginx with the echo module and wrk: apt-get install nginx libnginx-mod-http-echo wrk")
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs two CPUs: the servers on one, the load on the other")
    key = new_key()
    installed = as_installed(key, runtime_python(args.runtime_venv))
    one_core(key, args.baseline, args.seconds, args.rounds, installed)
    for count in [int(n) for n in args.in_flight.split(",") if n]:
        in_flight_case(key, count)
    for count in [int(n) for n in args.polled.split(",") if n]:
        in_flight_case(key, count, polled=True)
    if not args.skip_workers:
        workers(args.seconds, args.rounds)
    if not args.skip_time_to_image:
        for script, extra in (("streaming.py", ["--rounds", "20"]), ("storage.py", ["--rounds", "15"])):
            print(f"\n{script}:", flush=True)
            subprocess.run([sys.executable, str(ROOT / "bench" / script), *extra], check=False)


def one_core(key: str, baseline: str, seconds: float, rounds: int, installed: Started) -> None:
    """c=1 and c=32 with every server on CPU 0 and wrk on CPU 1; start time and idle RSS."""
    cleanup: list[Callable[[], object]] = []
    _pin({0})  # every server started from here runs on CPU 0
    try:
        fast = Nginx(0.0)
        cleanup.append(fast.stop)
        floor = start_floor(fast.url, key)
        cleanup.append(floor.stop)
        here = start_gateway_at(ROOT, fast.url, key)
        cleanup.append(here.server.stop)
        base = None
        checkout = baseline_checkout(baseline) if baseline else None
        if checkout is not None:
            cleanup.append(lambda: drop_checkout(checkout))
            base = start_gateway_at(checkout, fast.url, key)
            cleanup.append(base.server.stop)
        print(f"model {SYNC_MODEL} (sync), upstream nginx + echo, client wrk; baseline {baseline or '-'}")
        line = f"start to first answer: gateway {here.first_answer:.2f} s, RSS idle {here.idle_rss:.0f} MiB"
        line += f", after the first answer {here.served_rss:.0f} MiB"
        if base is not None:
            line += f" | baseline {base.first_answer:.2f} s, RSS idle {base.idle_rss:.0f} MiB"
            line += f", after the first answer {base.served_rss:.0f} MiB"
        print(line)
        direct_script, api_script = _lua_for("direct", key), _lua_for("api", CLIENT_KEY)
        api = "/v1/images/generations"
        targets = [Target("direct", fast.url + DIRECT_PATH, direct_script, lambda: [])]
        for name, server in (("floor", floor), ("baseline", base and base.server), ("gateway", here.server)):
            if server is not None:
                pid = server.process.pid
                targets.append(Target(name, server.url + api, api_script, lambda pid=pid: [pid]))  # type: ignore[misc]
        one, one_paired = per_core(targets, 1, seconds, rounds)
        many, many_paired = per_core(targets, 32, seconds, rounds)
    finally:
        for stop in reversed(cleanup):
            stop()
        _pin({0, 1})
    print("\nsummary (the issue's targets)")
    print(
        f"  c=1 added p50: gateway {one['gateway'].p50 - one['direct'].p50:+.3f} ms between the medians, "
        f"{one_paired.added_p50:+.3f} ms the median within a round (target <= +0.5 ms)"
    )
    if "baseline" in many:
        gain = many["gateway"].rps / many["baseline"].rps
        print(
            f"  c=32 throughput: gateway / baseline x{gain:.2f} between the medians, "
            f"x{many_paired.gain:.2f} the median within a round (target >= x2)"
        )
    print(
        f"  as installed: start to first answer {installed.first_answer:.2f} s (target < 1 s), "
        f"idle RSS {installed.idle_rss:.0f} MiB (target <= 60); in this dev venv {here.first_answer:.2f} s, "
        f"{here.idle_rss:.0f} MiB"
    )


def as_installed(key: str, python: str) -> Started:
    """Start and idle RSS of the gateway installed with its runtime dependencies only."""
    fast = Nginx(0.0)
    try:
        runs = []
        for _ in range(3):
            started = start_gateway_at(ROOT, fast.url, key, python=python)
            started.server.stop()
            runs.append(started)
    finally:
        fast.stop()
    best = min(runs, key=lambda r: r.first_answer)
    print(
        f"as installed (pip install ., runtime dependencies only), best of 3: start to first answer "
        f"{best.first_answer:.2f} s (target < 1 s) | RSS idle {best.idle_rss:.0f} MiB (target <= 60), "
        f"after the first answer {best.served_rss:.0f} MiB"
    )
    return best


def in_flight_case(key: str, count: int, polled: bool = False) -> None:
    """``count`` requests at once against the 2 s upstream (or async tasks polled until they
    finish, ``polled``), direct and through the gateway."""
    slow = Nginx(2.0)
    _pin({0})
    gateway = start_gateway_at(ROOT, slow.url, key, config=ASYNC_CONFIG if polled else SYNC_CONFIG)
    floor = None if polled else start_floor(slow.url, key)
    _pin({1})
    try:
        print()
        if polled:
            print("(no floor for polled tasks: the bare passthrough makes one sync call and polls nothing)")
            asyncio.run(async_in_flight(*async_sides(slow, gateway.server, key), gateway.server, count))
        else:
            assert floor is not None
            direct, via = sync_sides(slow, gateway.server, key)
            bare = dataclasses.replace(via, url=floor.url + "/v1/images/generations")
            asyncio.run(in_flight(direct, via, gateway.server, count, floor=(bare, floor)))
    finally:
        gateway.server.stop()
        if floor is not None:
            floor.stop()
        slow.stop()
        _pin({0, 1})


def workers(seconds: float, rounds: int) -> None:
    """1 worker against 2 (bench/workers_common.py): raw throughput on this 2-core machine, where wrk
    and nginx share the cores, and the scaling CPU per request projects for a core per worker."""
    from workers_common import measure, state_op_cost

    _pin({0, 1})
    print()
    print(measure((1, 2), concurrency=32, seconds=seconds, rounds=rounds).summary())
    costs = state_op_cost()
    print(
        "  SqliteState (workers without Redis), CPU per operation: "
        + ", ".join(f"{k} {v:.1f} us" for k, v in costs.items())
    )


if __name__ == "__main__":
    main()
