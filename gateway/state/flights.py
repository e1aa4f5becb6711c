"""Who leads a single-flight among the workers of one pod: a lock on one byte of a shared file.

A request that no other worker is making at the same moment is the common case; with these
locks it costs a few system calls and no write to the pod's SQLite state (claiming a key
there, then writing and deleting, made every request take the state's write lock three
times). POSIX record locks are what they need: an exclusive lock fails while another
process holds it, shared locks coexist, and the kernel drops a process's locks when it
dies, so a worker that crashed mid-flight leaves nobody waiting on it.

Each flight key hashes to two bytes: ``lead`` (held exclusively by the leader) and ``wait``
(held shared by every worker waiting for the leader's answer). The protocol is in
:meth:`gateway.sharing.answers.AnswerSharing._across_workers`.

POSIX locks belong to the process, not to the file descriptor: the file is opened once and
never closed while the process runs (closing any descriptor of it would drop them all), and
one process never conflicts with itself (the in-process single-flight keeps it to one flight
per key).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
from pathlib import Path

__all__ = ["FlightLocks"]

#: Lead bytes are below 2**62, their wait bytes the same offset above it.
_WAIT = 1 << 62
#: struct flock on Linux with a 64-bit off_t: l_type, l_whence, l_start, l_len, l_pid (+ padding).
_FLOCK = "hhqqi"
_FLOCK_SIZE = 32


class FlightLocks:
    def __init__(self, path: str | Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.pid = os.getpid()

    @staticmethod
    def slots(key: str) -> tuple[int, int]:
        """The ``lead`` and ``wait`` bytes of ``key`` (a 62-bit hash: collisions are negligible)."""
        lead = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") >> 2
        return lead, lead + _WAIT

    def try_lock(self, start: int, *, shared: bool = False) -> bool:
        try:
            fcntl.lockf(self.fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB, 1, start)
        except OSError:  # EAGAIN/EACCES: another process holds a conflicting lock
            return False
        return True

    def unlock(self, start: int) -> None:
        fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, start)

    def holder(self, start: int) -> int | None:
        """The pid of a process holding ``start`` exclusively (not this one), or None."""
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, start, 1, 0).ljust(_FLOCK_SIZE, b"\0")
        kind, _, _, _, pid = struct.unpack_from(_FLOCK, fcntl.fcntl(self.fd, fcntl.F_GETLK, query))
        return None if kind == fcntl.F_UNLCK else int(pid)

    def close(self) -> None:
        os.close(self.fd)
