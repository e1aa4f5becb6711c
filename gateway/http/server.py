"""The uvicorn server, with a graceful drain on SIGTERM.

On the first SIGTERM (or Ctrl+C) readiness fails at once and new API requests
get 503, while requests in flight (async polling included) run to completion or
to the drain deadline; then the process exits 0. A second signal stops at once.
Job reads keep being answered meanwhile, and without shared state the drain also
waits until every finished job has been read: its result exists nowhere else.

A worker of ``serve --workers N`` (``supervised``) takes its signals from the supervisor:
it leaves SIGINT alone (a terminal's Ctrl+C reaches the whole process group, and the
supervisor passes it on as SIGTERM, so one Ctrl+C is one signal), and it drains as on
SIGTERM if the supervisor itself is gone. When it stops serving it shuts its listening
socket down (the supervisor holds it open too): new connections go to the workers still
running instead of waiting in a backlog nobody accepts from.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from types import FrameType

import uvicorn

from gateway.runtime import Runtime

__all__ = ["DrainingServer"]

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, runtime: Runtime, *, supervised: bool = False) -> None:
        super().__init__(config)
        self.runtime = runtime
        self.supervised = supervised
        self.supervisor = os.getppid() if supervised else None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.supervisor is not None and sig == signal.SIGINT:
            return  # the supervisor sends the SIGTERM for it
        # Unlike uvicorn's own handler this does not re-raise the signal after
        # shutdown: a completed drain is a clean exit (status 0).
        if self.runtime.draining:
            log.warning("second %s: stopping without waiting", signal.Signals(sig).name)
            self.should_exit = self.force_exit = True
            return
        log.info(
            "%s: draining %d in-flight requests and %d uncollected jobs (at most %gs)",
            signal.Signals(sig).name,
            self.runtime.busy,
            self.runtime.uncollected,
            self.runtime.config.drain_deadline,
        )
        self.runtime.start_draining()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.supervised:
            for sock in sockets or ():
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        await super().shutdown(sockets)

    async def on_tick(self, counter: int) -> bool:
        if self.supervisor is not None and counter % 10 == 0 and os.getppid() != self.supervisor:
            log.warning("the supervisor is gone: draining")
            self.supervisor = None
            self.handle_exit(signal.SIGTERM, None)
        if self.runtime.draining and counter % 5 == 0 and self.runtime.jobs is not None:
            await self.runtime.jobs.forget_collected()  # read on another worker of this pod
        if self.runtime.drained():
            self.should_exit = True
            if self.runtime.uncollected:
                log.warning("drain deadline reached with %d finished jobs never collected", self.runtime.uncollected)
            if self.runtime.busy:
                # The drain deadline passed: do not wait for these connections any more.
                log.warning("drain deadline reached with %d requests or jobs in flight", self.runtime.busy)
                self.force_exit = True
        return await super().on_tick(counter)
