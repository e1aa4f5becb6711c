"""The emulator's mutable state and the steps shared by its routes."""

from __future__ import annotations

import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec
from litestar import Request

from .clock import Clock
from .config import EmulatorConfig
from .errors import bad_key, no_key, rate_quota
from .faults import THROTTLE, FlakyCounter, check_refusal, raise_marked, task_fate
from .limits import TASK_QUERY_LIMIT, RateLimiter
from .plan import plan_slots
from .responses import Links
from .results import Signer
from .rules import Endpoint
from .tasks import Task, TaskStore
from .validation import Call, Job, validate

_REQUEST_LOG_SIZE = 2000


@dataclass(slots=True)
class Stats:
    submits: int = 0
    tasks_created: int = 0
    sync_calls: int = 0
    cancels: int = 0
    downloads: int = 0
    polls: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "submits": self.submits,
            "tasks_created": self.tasks_created,
            "sync_calls": self.sync_calls,
            "cancels": self.cancels,
            "downloads": self.downloads,
            "polls": dict(self.polls),
            "models": dict(self.models),
        }


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock = Clock()
        self.tasks = TaskStore()
        self.limiter = RateLimiter()
        self.flaky = FlakyCounter()
        self.signer = Signer()
        self.stats = Stats()
        self.requests: deque[dict[str, Any]] = deque(maxlen=_REQUEST_LOG_SIZE)

    def record(self, request: Request[Any, Any, Any], body: bytes) -> None:
        """Logs a request once (a route's own 404 passes here twice), without its Authorization header."""
        state = request.scope.setdefault("state", {})
        if not self.config.record_requests or state.get("emulator_recorded"):
            return
        state["emulator_recorded"] = True
        try:
            parsed: Any = msgspec.json.decode(body) if body else None
        except msgspec.DecodeError:
            parsed = None
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": headers,
                "json": parsed,
            }
        )

    def authenticate(self, request: Request[Any, Any, Any]) -> str:
        header = request.headers.get("authorization", "").strip()
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if not header or (scheme.lower() == "bearer" and not key):
            raise no_key()
        if scheme.lower() != "bearer" or key.startswith("sk-sp-"):
            raise bad_key()
        if self.config.api_keys and key not in self.config.api_keys:
            raise bad_key()
        return key

    def validate(self, endpoint: Endpoint, request: Request[Any, Any, Any], body: bytes) -> Job:
        headers = request.headers
        call = Call(
            endpoint=endpoint,
            region=self.config.region,
            async_header=headers.get("x-dashscope-async", "").lower() == "enable",
            sse=headers.get("x-dashscope-sse", "").lower() == "enable",
            oss_resolve=headers.get("x-dashscope-ossresourceresolve", "").lower() == "enable",
        )
        return validate(body, call)

    def admit(self, job: Job, key: str) -> None:
        """Steps 9 and 10: rate limits, then the faults that refuse the call outright."""
        raise_marked(job.faults, THROTTLE)
        if self.config.enforce_limits:
            rate = job.rule.rate_for(self.config.region)
            if not self.limiter.allow((key, job.rule.name), rate.limit, rate.window, self.clock.now()):
                raise rate_quota()
        check_refusal(job.faults, self.flaky, job.prompt)

    def check_query_rate(self, key: str) -> None:
        if self.config.enforce_limits and not self.limiter.allow(
            ("tasks", key), TASK_QUERY_LIMIT, 1.0, self.clock.now()
        ):
            raise rate_quota()

    def latency(self, job: Job) -> float:
        return self.config.latency if job.faults.latency is None else job.faults.latency

    def submit(self, job: Job, key: str, req_id: str) -> Task:
        now = self.clock.now()
        fate = task_fate(job.faults, self.flaky, job.prompt)
        if fate.early:
            run = 0.0
        elif job.faults.has("stuck"):
            run = float("inf")
        else:
            run = self.latency(job)
        task = Task(
            task_id=str(uuid.uuid4()),
            job=job,
            key=key,
            request_id=req_id,
            submitted=now,
            ready=now + self.config.pending_seconds,
            run=run,
            fate=fate,
            slots=plan_slots(job),
            concurrency=job.rule.rate_for(self.config.region).concurrency if self.config.enforce_limits else None,
        )
        self.tasks.add(task, now)
        self.stats.tasks_created += 1
        self.stats.models[job.model] += 1
        return task

    def links(self, request: Request[Any, Any, Any], owner: str, issued: float, job: Job) -> Links:
        """Result URLs on the host the client used, valid ``url_ttl_seconds`` from ``issued``."""
        return Links(
            self.signer,
            str(request.base_url),
            owner,
            issued,
            self.config.url_ttl_seconds,
            expired=job.faults.has("expired-url"),
        )


def emulator(request: Request[Any, Any, Any]) -> Emulator:
    return cast(Emulator, request.app.state["emulator"])
