"""``serve --workers N``: one small supervisor process and N gateway workers.

The supervisor binds the listening sockets, then starts each worker as a fresh interpreter
(``python -m gateway serve ... --worker-fd FD``) that serves today's DrainingServer on the
socket it inherits. It never imports the app: it forwards signals, respawns a worker that
died (with a backoff), tells prometheus_client that a worker has gone, and exits 0 once
every worker has exited 0 after a SIGTERM.

Each worker slot has its own listening socket, all bound to the same address with
SO_REUSEPORT, so the kernel spreads new connections evenly over the workers. (With one
shared socket every worker wakes up for each new connection and libuv accepts greedily:
a burst of connections lands mostly on whichever worker woke first.) The slot's socket
stays open in the supervisor while its worker is respawned, so connections made meanwhile
wait in its backlog instead of being refused.

What the workers share without Redis (an SQLite file) and the metrics directory live in
a fresh directory made at each start and removed at exit.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

__all__ = ["EMULATORS_ENV", "WORKER_ENV", "Supervisor", "bind_reuseport"]

log = logging.getLogger("gateway.supervisor")

#: The embedded emulators the supervisor serves, for its workers: {provider: [base_url, key]}.
EMULATORS_ENV = "GATEWAY_WORKER_EMULATORS"
#: "<index>/<count>" in each worker's environment.
WORKER_ENV = "GATEWAY_WORKER"
#: Respawn delays: the first, and the most a worker that keeps dying waits.
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
#: A worker that ran this long before dying is respawned after BACKOFF_FIRST again.
STABLE_AFTER = 30.0
POLL = 0.05
#: The supervisor's directory under TMPDIR: ``<prefix><its pid>-<random>``.
RUN_PREFIX = "image-gateway-workers-"
#: What ``serve`` exits with when the configuration cannot be served.
CONFIG_ERROR = 2


def bind_reuseport(host: str, port: int, count: int, backlog: int = 4096) -> list[socket.socket]:
    """``count`` listening sockets on one address (port 0: one free port for all).

    SO_REUSEPORT would also let another gateway join the same port without a word, so the
    port is first bound without it: taken by anyone, that fails as a single process's would."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    sockets: list[socket.socket] = []
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        port = sock.getsockname()[1]
        sock.listen(backlog)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


def _remove_orphans() -> None:
    """The directories of supervisors that were killed before they could remove theirs (e.g.
    a container restarted with the same /tmp emptyDir): their pid no longer runs."""
    for path in Path(tempfile.gettempdir()).glob(RUN_PREFIX + "*"):
        pid = path.name[len(RUN_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


@dataclass
class _Slot:
    index: int
    sock: socket.socket
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = BACKOFF_FIRST
    respawn_at: float | None = None
    returncode: int | None = None


class Supervisor:
    def __init__(
        self,
        worker_args: Sequence[str],
        sockets: list[socket.socket],
        *,
        emulators: dict[str, list[str]] | None = None,
    ) -> None:
        self.worker_args = list(worker_args)
        self.slots = [_Slot(i, sock) for i, sock in enumerate(sockets)]
        self.signals = 0
        self.exit_code: int | None = None
        _remove_orphans()
        self.run_dir = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-"))
        metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if metrics_dir:  # the operator's (e.g. the chart's emptyDir): wiped, as at every start
            self.metrics_dir = Path(metrics_dir)
            self.metrics_dir.mkdir(parents=True, exist_ok=True)
            for stale in self.metrics_dir.glob("*.db"):
                stale.unlink()
        else:
            self.metrics_dir = self.run_dir / "metrics"
            self.metrics_dir.mkdir()
        self.env = dict(os.environ)
        self.env.update(
            {
                "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
                "GATEWAY_WORKER_STATE": str(self.run_dir / "state.db"),
                EMULATORS_ENV: json.dumps(emulators or {}),
            }
        )
        self.env.pop("GATEWAY_WORKERS", None)

    def _spawn(self, slot: _Slot) -> None:
        fd = slot.sock.fileno()
        env = {**self.env, WORKER_ENV: f"{slot.index}/{len(self.slots)}"}
        slot.process = subprocess.Popen(
            [sys.executable, "-m", "gateway", *self.worker_args, "--worker-fd", str(fd)], env=env, pass_fds=(fd,)
        )
        slot.started, slot.respawn_at = time.monotonic(), None
        log.info("worker started", extra={"fields": {"worker": slot.index, "pid": slot.process.pid}})

    def _signal(self, sig: int, frame: FrameType | None) -> None:
        self.signals += 1
        log.info(
            "%s: stopping %d workers%s",
            signal.Signals(sig).name,
            sum(1 for s in self.slots if s.process is not None),
            " at once" if self.signals > 1 else " (each drains)",
        )
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is None:
                # SIGTERM, also for Ctrl+C: the workers take SIGINT from the terminal as the
                # group's and leave it to this process, so one Ctrl+C is one signal to them.
                slot.process.send_signal(signal.SIGTERM)

    def _reap(self, slot: _Slot) -> None:
        assert slot.process is not None
        code = slot.process.returncode
        pid = slot.process.pid
        slot.process = None
        self._forget(pid)
        if self.signals:
            # Killed by our SIGTERM means it came before the worker was serving (from then on
            # it drains and exits 0): nothing was in flight there.
            slot.returncode = 0 if code == -signal.SIGTERM else code
            slot.sock.close()  # no new connection waits for a worker that is gone
            level = logging.INFO if slot.returncode == 0 else logging.WARNING
            log.log(level, "worker exited", extra={"fields": {"worker": slot.index, "pid": pid, "code": code}})
            return
        if code == CONFIG_ERROR:
            # The worker refused the configuration (it said why): so would every respawn.
            log.error("worker refused the configuration; stopping", extra={"fields": {"worker": slot.index}})
            slot.returncode, self.exit_code = code, code
            slot.sock.close()
            self._signal(signal.SIGTERM, None)
            return
        lived = time.monotonic() - slot.started
        if lived >= STABLE_AFTER:
            slot.backoff = BACKOFF_FIRST
        slot.respawn_at = time.monotonic() + slot.backoff
        log.log(
            logging.ERROR if code else logging.WARNING,
            "worker exited unexpectedly; respawning",
            extra={
                "fields": {"worker": slot.index, "pid": pid, "code": code, "after_s": slot.backoff, "lived_s": lived}
            },
        )
        slot.backoff = min(BACKOFF_MAX, slot.backoff * 2)

    def _forget(self, pid: int) -> None:
        """Drop the gone worker's live gauges (its counters keep counting in the pod's totals)."""
        from prometheus_client import multiprocess  # only now: the supervisor stays small

        multiprocess.mark_process_dead(pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]

    def _step(self) -> bool:
        """Reap and respawn; True once every worker has exited after a signal."""
        now = time.monotonic()
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is not None:
                self._reap(slot)
            if slot.respawn_at is not None and self.signals:  # stopping: it stays down
                slot.respawn_at, slot.returncode = None, 0
                slot.sock.close()
            elif slot.respawn_at is not None and now >= slot.respawn_at:
                self._spawn(slot)
        return bool(self.signals) and all(slot.process is None and slot.respawn_at is None for slot in self.slots)

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in self.slots:
                self._spawn(slot)
            while not self._step():
                time.sleep(POLL)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for slot in self.slots:
                if slot.process is not None and slot.process.poll() is None:
                    slot.process.kill()
                    slot.process.wait()
            shutil.rmtree(self.run_dir, ignore_errors=True)
        failed = [slot.index for slot in self.slots if slot.returncode != 0]
        if self.exit_code is not None:
            return self.exit_code
        if failed:
            log.warning("workers %s did not exit cleanly", failed)
        return 1 if failed else 0
