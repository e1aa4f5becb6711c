"""Prometheus metrics. Labels are bounded: route templates, catalog model ids,
provider names, DashScope error codes; never paths, prompts, users or keys.

Under ``serve --workers N`` the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` before any
worker imports prometheus_client: every worker then writes its values to files there and
``/metrics``, whichever worker answers, adds up the whole pod's (:meth:`Metrics.expose`).
Each gauge says how its workers' values combine (``multiprocess_mode``; ignored with one
process); ``live*`` modes leave out workers that have exited.
"""

from __future__ import annotations

import os
from typing import TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

__all__ = ["CONTENT_TYPE_LATEST", "LATENCY_BUCKETS", "MULTIPROC_ENV", "WEBHOOK_OUTCOMES", "Metrics"]

#: Set (by the workers' supervisor) when several processes share the metrics.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Image calls take from a fraction of a second (cache, fast sync models) to minutes.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300)
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)
POLL_BUCKETS = (0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100)
ATTEMPT_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30)
#: What one webhook attempt came to: delivered (2xx), retry (another attempt is queued), failed
#: (no attempt left, or past 24 h), rejected (the host or address is no longer allowed, or
#: webhooks were turned off), dropped (the queue was full when the job ended).
WEBHOOK_OUTCOMES = ("delivered", "retry", "failed", "rejected", "dropped")
M = TypeVar("M", bound=MetricWrapperBase)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}
        r = self.registry
        self.requests = Counter(
            "gateway_requests", "Requests answered", ["route", "model", "provider", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "gateway_request_duration_seconds",
            "End-to-end request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.overhead_seconds = Histogram(
            "gateway_overhead_seconds",
            "Request latency minus time waiting on upstreams and queues",
            ["route"],
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        # The pod's requests in flight: the sum over the workers that are running.
        self.in_flight = Gauge(
            "gateway_in_flight_requests", "Requests being served", ["route"], registry=r, multiprocess_mode="livesum"
        )
        self.upstream_seconds = Histogram(
            "gateway_upstream_duration_seconds",
            "Upstream HTTP call latency",
            ["provider", "model", "call"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "gateway_upstream_errors",
            "Upstream errors by provider error code",
            ["provider", "model", "code"],
            registry=r,
        )
        self.retries = Counter("gateway_upstream_retries", "Upstream calls retried", ["provider", "model"], registry=r)
        self.fallbacks = Counter(
            "gateway_fallbacks",
            "Requests moved to the next target of a route",
            ["model", "from_provider", "to_provider"],
            registry=r,
        )
        self.task_polls = Histogram(
            "gateway_task_polls", "Polls per async task", ["provider", "model"], buckets=POLL_BUCKETS, registry=r
        )
        self.queue_wait = Histogram(
            "gateway_queue_wait_seconds",
            "Time waiting for an upstream slot (pacing)",
            ["provider", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.images = Counter("gateway_images_generated", "Images delivered", ["provider", "model"], registry=r)
        self.cost = Counter(
            "gateway_estimated_cost",
            "Estimated upstream cost: the configured price per image (currency 'configured'), "
            "else the catalog's price applied to what the upstream reported as billed",
            ["provider", "model", "currency"],
            registry=r,
        )
        self.stored_images = Counter(
            "gateway_stored_images", "Result images copied to the store, by outcome", ["store", "outcome"], registry=r
        )
        self.stored_bytes = Counter("gateway_stored_bytes", "Bytes written to the result store", ["store"], registry=r)
        self.store_seconds = Histogram(
            "gateway_store_duration_seconds",
            "Time to copy one result image into the store (download included)",
            ["store"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cache = Counter("gateway_cache_requests", "Response cache lookups", ["result"], registry=r)
        self.circuit = Gauge(
            "gateway_circuit_state",
            "Circuit breaker state (0 closed, 1 half-open, 2 open)",
            ["provider", "model"],
            registry=r,
            # Each worker has its own breakers: the pod shows the most open of its running workers'.
            multiprocess_mode="livemax",
        )
        self.key_status = Gauge(
            "gateway_provider_key_status",
            "Provider key status (1 for the current status)",
            ["provider", "status"],
            registry=r,
            # Every worker checks the keys: the latest check wins, whichever worker made it.
            multiprocess_mode="mostrecent",
        )
        self.webhook_deliveries = Counter(
            "gateway_webhook_deliveries", "Webhook attempts by outcome", ["outcome"], registry=r
        )
        for outcome in WEBHOOK_OUTCOMES:  # every outcome exported from the start, at 0
            self.webhook_deliveries.labels(outcome)
        self.webhook_attempts = Histogram(
            "gateway_webhook_attempts",
            "Attempts a webhook took, counted when it was delivered or given up",
            buckets=ATTEMPT_BUCKETS,
            registry=r,
        )
        self.usage_written = Counter(
            "gateway_usage_written", "Usage records written to the usage ledger's database", registry=r
        )
        self.usage_dropped = Counter(
            "gateway_usage_dropped",
            "Usage records lost: buffer_full, write_failed (the database refused every attempt) or shutdown",
            ["reason"],
            registry=r,
        )
        self.usage_database_up = Gauge(
            "gateway_usage_database_up",
            "Whether the usage ledger's last write succeeded",
            registry=r,
            multiprocess_mode="mostrecent",  # each worker writes its own records: the latest write
        )
        self.shared_state = Gauge(
            "gateway_shared_state_up",
            "Whether the shared state store (Redis) is reachable",
            registry=r,
            multiprocess_mode="livemin",  # 0 as soon as one running worker cannot reach it
        )

    def expose(self) -> bytes:
        """The text exposition for ``/metrics``: this process's, or the whole pod's under workers."""
        directory = os.environ.get(MULTIPROC_ENV)
        if not directory:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        pod = CollectorRegistry()
        MultiProcessCollector(pod, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(pod)

    def of(self, metric: M, *labels: str) -> M:
        """``metric.labels(*labels)``, remembered: label lookups take a lock and showed in profiles."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child  # type: ignore[return-value]
