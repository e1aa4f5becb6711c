"""Webhook deliveries: queued in shared state when a job ends, sent by whichever replica is free.

Each delivery is a member of one shared-state queue, keyed by its ``webhook-id``. Every
replica polls the queue; taking a delivery leases it, so one replica sends it, and if that
replica dies mid-send the lease runs out and another sends it (at least once: receivers
dedupe on ``webhook-id``, which every attempt repeats). A non-2xx answer, a timeout or a
connection failure reschedules it along ``webhooks.retry_schedule``, for at most
``webhooks.max_attempts`` attempts and never later than 24 h after the job ended. With Redis
the queue outlives any replica; without it, it lives in this process.

Nothing here logs or labels a URL, the secret or a signature: logs name the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import httpx
import msgspec

from gateway.http.auth import ClientKey, KeyRing
from gateway.observability.metrics import Metrics
from gateway.service.jobs import JobRecord, job_view
from gateway.settings import WebhookSettings
from gateway.state import SharedState
from gateway.webhooks import signing, targets
from gateway.wire.jobs import JobEvent

__all__ = ["QUEUE", "WINDOW_SECONDS", "Delivery", "Webhooks", "retry_delay"]

log = logging.getLogger(__name__)

QUEUE = "webhooks"
#: No attempt is made later than this after the job ended.
WINDOW_SECONDS = 86_400.0
#: How often an idle replica looks for due deliveries (a job ending here wakes it at once).
POLL_SECONDS = 0.5
#: What a receiver may answer; the rest is not read (nothing in it is used).
MAX_ANSWER_BYTES = 64 * 1024
EVENT_TYPES = {"succeeded": "image.job.succeeded", "failed": "image.job.failed"}


class Delivery(msgspec.Struct, frozen=True):
    """One queued webhook: the exact body every attempt sends, and how many attempts were made."""

    id: str
    job: str
    url: str
    #: The job's client key name: its ``webhook_hosts`` are looked up again for every attempt.
    client: str | None
    body: msgspec.Raw
    #: When the job ended (epoch seconds).
    ended: float
    attempts: int = 0


def retry_delay(attempts: int, schedule: Sequence[float], max_attempts: int, elapsed: float) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones, ``elapsed`` seconds after the
    job ended; None when none is left (``max_attempts`` made, or it would fall past 24 h)."""
    if attempts >= max_attempts:
        return None
    delay = schedule[min(max(attempts, 1), len(schedule)) - 1]
    return delay if elapsed + delay <= WINDOW_SECONDS else None


class Webhooks:
    def __init__(self, settings: WebhookSettings, state: SharedState, metrics: Metrics, keyring: KeyRing) -> None:
        self.settings = settings
        self.state = state
        self.metrics = metrics
        self.keyring = keyring
        self.key = signing.secret_key(settings.secret.reveal()) if settings.secret else None
        self._client: httpx.AsyncClient | None = None
        self.lease = settings.timeout_seconds + targets.RESOLVE_TIMEOUT + 30.0
        self.sending: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self.loop: asyncio.Task[None] | None = None
        #: Told the job id of each delivered webhook (its result reached the client).
        self.on_delivered: Callable[[str], None] | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        """Made on first delivery: building its TLS context took a tenth of the gateway's start.

        Its own client: short timeouts, no redirects (a 3xx is a failed attempt, never a hop to
        an unchecked host), no proxy from the environment (the checked address is connected to),
        and no kept connections: one is opened to an address for one host name and its TLS name,
        and must not carry another host's request."""
        if self._client is None:
            timeout = self.settings.timeout_seconds
            self._client = httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
                limits=httpx.Limits(max_connections=self.settings.concurrency, max_keepalive_connections=0),
            )
        return self._client

    @property
    def enabled(self) -> bool:
        return self.key is not None

    def hosts(self, client: ClientKey | None) -> tuple[str, ...]:
        return self.settings.allowed_hosts + (client.webhook_hosts if client is not None else ())

    async def accept(self, url: str, client: ClientKey | None) -> str:
        """``url`` when this client's jobs may call it back; else the 400 saying why."""
        if self.key is None:
            raise targets.WebhooksNotConfigured()
        await targets.check(url, self.hosts(client))
        return url

    async def job_finished(self, record: JobRecord) -> None:
        """Queue the job's event (JobService calls this once the ended record is saved)."""
        kind = EVENT_TYPES.get(record.status)
        if record.webhook_url is None or kind is None:
            return
        if self.key is None:
            self.metrics.of(self.metrics.webhook_deliveries, "rejected").inc()
            log.warning("job %s ended with a webhook, but webhooks are no longer configured", record.id)
            return
        ended = time.time()
        stamp = datetime.fromtimestamp(ended, UTC).isoformat().replace("+00:00", "Z")
        body = msgspec.json.encode(JobEvent(kind, stamp, job_view(record)))
        msg_id = signing.message_id(record.id)
        delivery = Delivery(msg_id, record.id, record.webhook_url, record.client, msgspec.Raw(body), ended)
        try:
            queued = await self.state.schedule(
                QUEUE, delivery.id, msgspec.json.encode(delivery), 0.0, self.settings.max_pending
            )
        except Exception:  # the job has ended either way; its webhook must not fail it
            log.exception("could not queue the webhook of job %s", record.id)
            queued = False
        if not queued:
            self.metrics.of(self.metrics.webhook_deliveries, "dropped").inc()
            log.warning("webhook of job %s dropped: %d already pending", record.id, self.settings.max_pending)
            return
        self.wake.set()

    def start(self) -> None:
        if self.enabled and self.loop is None:
            self.loop = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            free = self.settings.concurrency - len(self.sending)
            if free > 0:
                try:
                    due = await self.state.take_due(QUEUE, free, self.lease)
                except Exception:  # shared state answers locally when Redis is down; anything else: next poll
                    log.exception("could not read the webhook queue")
                    due = []
                for member, payload in due:
                    task = asyncio.create_task(self._attempt(member, payload))
                    self.sending.add(task)
                    task.add_done_callback(self.sending.discard)
                if len(due) == free:
                    continue  # more may be due: look again at once
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), POLL_SECONDS)

    def _count(self, outcome: str) -> None:
        self.metrics.of(self.metrics.webhook_deliveries, outcome).inc()

    async def _attempt(self, member: str, payload: bytes) -> None:
        try:
            delivery = msgspec.json.decode(payload, type=Delivery)
        except msgspec.DecodeError:
            log.error("webhook %s: unreadable queue entry, dropped", member)
            await self.state.done(QUEUE, member)
            self._count("failed")
            return
        try:
            await self._deliver(delivery)
        except Exception:
            # Left leased: the lease running out makes it due again, like a replica that died.
            log.exception("webhook %s: attempt failed in the gateway", delivery.id)

    async def _deliver(self, delivery: Delivery) -> None:
        attempt = delivery.attempts + 1
        host, status = "?", "-"
        try:
            target = await targets.check(delivery.url, self.hosts(self.keyring.named(delivery.client)))
            host = target.host
            status = await self._send(target, delivery)
            ok = status.startswith("2")
        except targets.Unresolvable:
            ok = False
            status = "unresolvable"
        except targets.WebhookNotAllowed as exc:
            await self.state.done(QUEUE, delivery.id)
            self._finished("rejected", attempt)
            log.warning("webhook %s not sent (attempt %d): %s", delivery.id, attempt, exc.message)
            return
        if ok:
            await self.state.done(QUEUE, delivery.id)
            self._finished("delivered", attempt)
            if self.on_delivered is not None:
                self.on_delivered(delivery.job)
            log.info("webhook %s delivered to %s (attempt %d, HTTP %s)", delivery.id, host, attempt, status)
            return
        s = self.settings
        delay = retry_delay(attempt, s.retry_schedule, s.max_attempts, time.time() - delivery.ended)
        if delay is None:
            await self.state.done(QUEUE, delivery.id)
            self._finished("failed", attempt)
            log.warning("webhook %s to %s failed for good (attempt %d: %s)", delivery.id, host, attempt, status)
            return
        again = msgspec.json.encode(msgspec.structs.replace(delivery, attempts=attempt))
        await self.state.schedule(QUEUE, delivery.id, again, delay, s.max_pending)
        self._count("retry")
        log.info("webhook %s to %s: attempt %d %s, next in %gs", delivery.id, host, attempt, status, delay)

    def _finished(self, outcome: str, attempts: int) -> None:
        self._count(outcome)
        self.metrics.webhook_attempts.observe(attempts)

    async def _send(self, target: targets.Target, delivery: Delivery) -> str:
        """The answer's status code, or why there was none ("timeout", "connect error", ...)."""
        assert self.key is not None
        body = bytes(delivery.body)
        headers = {
            **signing.signed_headers(self.key, delivery.id, int(time.time()), body),
            "content-type": "application/json",
            "user-agent": "image-gateway-webhooks",
            "host": target.url.netloc.decode("ascii"),
        }
        extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
        try:
            async with asyncio.timeout(self.settings.timeout_seconds):
                for address in target.addresses:
                    url = target.url.copy_with(host=address)
                    try:
                        request = self.client.build_request("POST", url, content=body, headers=headers)
                        request.extensions.update(extensions)
                        response = await self.client.send(request, stream=True)
                    except httpx.ConnectError:
                        continue  # the next address
                    try:
                        read = 0
                        async for chunk in response.aiter_raw():
                            read += len(chunk)
                            if read > MAX_ANSWER_BYTES:
                                break
                    finally:
                        await response.aclose()
                    return str(response.status_code)
                return "connect error"
        except TimeoutError:
            return "timeout"
        except httpx.HTTPError as exc:
            return type(exc).__name__

    async def aclose(self) -> None:
        tasks = [t for t in (self.loop, *self.sending) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
