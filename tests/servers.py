"""Real processes on loopback for end-to-end tests: the emulator and the gateway."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = [
    "KNOWN_KEYS",
    "LOG_DIR",
    "PostgresServer",
    "RedisServer",
    "S3Server",
    "Server",
    "free_port",
    "new_key",
    "start_emulator",
    "start_gateway",
    "start_postgres",
    "start_redis",
    "start_s3",
]

#: Where every process of this test run writes stdout/stderr, and the test clients
#: record every answer, so one test can search all of it for secrets.
LOG_DIR = Path(os.environ.get("GATEWAY_TEST_LOGS", "/tmp/image-gateway-test-logs")) / (
    f"run-{os.getpid()}-{int(time.time())}"
)
#: Every key handed to a gateway or emulator during the run.
KNOWN_KEYS: list[str] = []


def new_key(prefix: str = "sk-") -> str:
    key = prefix + secrets.token_hex(16)
    KNOWN_KEYS.append(key)
    return key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    logs: list[Path] = field(default_factory=list)
    #: Started as the leader of its own process group (``serve --workers N``): stopping it
    #: leaves none of its workers behind.
    group: bool = False

    def output(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.logs if path.exists())

    def workers(self) -> list[int]:
        """The pids of the processes it started (a supervisor's workers)."""
        pid = self.process.pid
        try:
            return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def stop(self, timeout: float = 10) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            _wait_or_kill(self.process, timeout)
        if self.group:
            # Whatever is left of the group: a worker the supervisor could not stop.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        return int(self.process.returncode)


def _wait_or_kill(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Wait for a process told to stop; kill it if it is still there after ``timeout``."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE", "GATEWAY_", "REDIS_URL"))}
    env["PYTHONUNBUFFERED"] = "1"  # every line reaches the log files as it is written
    # Each process its own usage ledger (SQLite by default), under LOG_DIR: never in the
    # repository, never shared by two tests, and searched for secrets with the logs.
    env["GATEWAY_DATA_DIR"] = str(LOG_DIR / f"data-{secrets.token_hex(4)}")
    env.update(extra)
    return env


def _spawn(
    name: str, args: list[str], env: Mapping[str, str], ready_path: str, port: int, *, group: bool = False
) -> Server:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    stamp = f"{name}-{port}-{secrets.token_hex(3)}"
    out, err = LOG_DIR / f"{stamp}.out", LOG_DIR / f"{stamp}.err"
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", *args],
        stdout=out.open("wb"),
        stderr=err.open("wb"),
        env=clean_env(env),
        start_new_session=group,
    )
    server = Server(name, process, f"http://127.0.0.1:{port}", [out, err], group=group)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(server.url + ready_path, timeout=1).status_code < 500:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{name} did not become ready:\n{server.output()}")


def start_emulator(
    region: str, key: str, *, latency: float = 0.05, pending: float = 0.05, extra: tuple[str, ...] = ()
) -> Server:
    port = free_port()
    args = ["emulator", "--port", str(port), "--region", region, "--latency", str(latency), "--pending", str(pending)]
    return _spawn(f"emulator-{region}", [*args, *extra], {"DASHSCOPE_EMULATOR_KEYS": key}, "/__emulator__/stats", port)


def start_gateway(
    env: Mapping[str, str], config: str | None = None, *, tmp: Path | None = None, workers: int = 1
) -> Server:
    """A gateway on a free loopback port; ``workers`` > 1: ``serve --workers N``, every worker
    ready (each has answered ``/readyz``) before it returns."""
    port = free_port()
    args = ["serve", "--port", str(port)]
    if config is not None:
        path = (tmp or LOG_DIR) / f"gateway-{port}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config)
        args += ["--config", str(path)]
    if workers == 1:
        return _spawn("gateway", args, env, "/readyz", port)
    server = _spawn("gateway", [*args, "--workers", str(workers)], env, "/readyz", port, group=True)
    _wait_for_workers(server, workers)
    return server


def _wait_for_workers(server: Server, count: int, timeout: float = 30) -> None:
    """Until ``count`` workers have each answered (as far as one can tell from outside): the
    kernel spreads new connections over the workers' sockets, and a connection that lands on
    a worker still starting waits for it, so 8 answers a worker on fresh connections miss
    one only with a chance of about 2**-8 per worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(server.workers()) == count:
            answered = 0
            for _ in range(8 * count):
                with contextlib.suppress(httpx.HTTPError):
                    answered += httpx.get(server.url + "/readyz", timeout=5).status_code == 200
            if answered == 8 * count:
                return
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"the gateway's {count} workers did not become ready:\n{server.output()}")


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_redis() -> RedisServer:
    """A throwaway redis-server on a loopback port (``make test`` installs the Debian package)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make test`, which installs it")
    port = free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=(LOG_DIR / f"redis-{port}.out").open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return RedisServer(process, port)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


@dataclass
class PostgresServer:
    process: subprocess.Popen[bytes]
    port: int
    password: str
    root: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://ledger:{self.password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT is "fast" shutdown (no waiting for clients to leave), sent to postgres itself:
            # runuser, when it started it, does not pass SIGINT on.
            pid_file = self.root / "data" / "postmaster.pid"
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
            except (OSError, ValueError, IndexError):
                self.process.terminate()
            _wait_or_kill(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run `make test`, which installs Debian's postgresql")
    return found[-1].parent


def start_postgres() -> PostgresServer:
    """A throwaway PostgreSQL cluster on a loopback port, with a password (a secret for the scan).

    initdb and postgres refuse to run as root: as root they run as the ``postgres`` user
    (the Debian package creates it) in a directory that user owns.
    """
    binaries = _postgres_bin()
    password = new_key("pg")
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if as_user:
        shutil.chown(pwfile, "postgres")
    data = root / "data"
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = (LOG_DIR / f"postgres-{port}.out").open("wb")
    options = ["-U", "ledger", f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"]
    subprocess.run(
        [*as_user, str(binaries / "initdb"), "-D", str(data), *options, "--no-instructions"],
        stdout=log,
        stderr=subprocess.STDOUT,
        check=True,
        timeout=120,
    )
    pwfile.unlink()
    settings = ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=50"]
    process = subprocess.Popen(
        [*as_user, str(binaries / "postgres"), "-D", str(data), "-k", str(root), "-p", str(port), *settings],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = PostgresServer(process, port, password, root)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        ready = subprocess.run(
            [str(binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"], check=False, timeout=10
        )
        if ready.returncode == 0:
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"PostgreSQL did not start:\n{(LOG_DIR / f'postgres-{port}.out').read_text()}")


@dataclass
class S3Server:
    """moto in server mode: a real S3-compatible HTTP server on loopback (any credentials pass)."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            _wait_or_kill(self.process)


def start_s3() -> S3Server:
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.exists():
        raise RuntimeError("moto_server is not installed: run `make test`, which installs the dev dependencies")
    port = free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=(LOG_DIR / f"s3-{port}.out").open("wb"),
        stderr=subprocess.STDOUT,
        env=clean_env({}),
    )
    server = S3Server(process, port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("moto_server exited at start")
        try:
            httpx.get(server.url + "/", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("moto_server did not start")
