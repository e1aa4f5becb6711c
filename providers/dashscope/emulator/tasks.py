"""Async tasks. State is computed from timestamps on each query; nothing runs in the background.

With a concurrency limit the tasks of one model form a FIFO lane: a task starts when it is ready (submit plus
the PENDING time) and one of the model's slots is free, i.e. at the (k - c + 1)-th earliest end among the k
earlier tasks still unfinished. Start and end are fixed at submit and recomputed only when a cancel frees a
place in the queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .faults import Fate
from .plan import Slot
from .validation import Job

RETENTION_SECONDS = 24 * 3600.0
_PRUNE_EVERY = 512


@dataclass(slots=True, eq=False)
class Task:
    task_id: str
    job: Job
    key: str
    request_id: str
    submitted: float
    ready: float
    run: float  # RUNNING duration: math.inf when stuck, 0 for fates decided before running
    fate: Fate
    slots: tuple[Slot, ...]
    concurrency: int | None = None
    start: float = 0.0
    end: float = 0.0
    canceled_at: float | None = None

    def status(self, now: float) -> str:
        if now - self.submitted >= RETENTION_SECONDS:
            return "UNKNOWN"
        if self.canceled_at is not None:
            return "CANCELED"
        if now < self.start:
            return "PENDING"
        if self.fate.status in ("UNKNOWN", "CANCELED"):
            return self.fate.status
        if now < self.end:
            return "RUNNING"
        return self.fate.status


def _start_after(earlier: list[Task], ready: float, concurrency: int) -> float:
    ends = sorted(task.end for task in earlier)
    if len(ends) < concurrency:
        return ready
    return max(ready, ends[len(ends) - concurrency])


class TaskStore:
    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._lanes: dict[str, list[Task]] = {}
        self._added = 0

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks.values())

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def add(self, task: Task, now: float) -> None:
        if task.concurrency is None:
            task.start = task.ready
        else:
            lane = [t for t in self._lanes.get(task.job.rule.name, []) if t.end > now]
            task.start = _start_after(lane, task.ready, task.concurrency)
            lane.append(task)
            self._lanes[task.job.rule.name] = lane
        task.end = task.start + task.run
        self._tasks[task.task_id] = task
        self._added += 1
        if self._added % _PRUNE_EVERY == 0:
            self._prune(now)

    def cancel(self, task: Task, now: float) -> bool:
        """Cancels a PENDING task and lets the tasks queued behind it move up."""
        if task.status(now) != "PENDING":
            return False
        task.canceled_at = now
        lane = self._lanes.get(task.job.rule.name)
        if lane is not None and task in lane and task.concurrency is not None:
            lane.remove(task)
            placed: list[Task] = []
            for queued in lane:
                if queued.start > now:
                    live = [t for t in placed if t.end > now]
                    queued.start = max(now, _start_after(live, queued.ready, task.concurrency))
                    queued.end = queued.start + queued.run
                placed.append(queued)
        return True

    def _prune(self, now: float) -> None:
        # Expired tasks already read as UNKNOWN; dropping them only bounds memory.
        cutoff = now - RETENTION_SECONDS
        for task_id in [t.task_id for t in self._tasks.values() if t.submitted < cutoff]:
            del self._tasks[task_id]
        for name, lane in self._lanes.items():
            self._lanes[name] = [t for t in lane if t.end > now]
