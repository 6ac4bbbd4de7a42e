"""Outbound webhooks: each agency's own systems may receive every assignment and status change as
signed JSON. Delivery never holds up the centre: `WebhookSender.send` only queues and returns; one
worker per agency delivers its queue in order, retrying with backoff, so a receiver that is down or
hangs delays that agency's later payloads and nobody else's.

What a receiver gets, per POST:

- the body: the payload as UTF-8 JSON, the same bytes on every attempt;
- `X-Ngalam112-Event-Id`: the delivery's id, the same on every attempt. A receiver may have
  processed a payload whose answer never reached us (a timeout, a dropped connection); it sees the
  retry with the same id and ignores it, so "at least once" acts as "once";
- `X-Ngalam112-Timestamp`: Unix seconds when this attempt was signed;
- `X-Ngalam112-Signature`: `sha256=<hex>`, the HMAC-SHA256 with the agency's secret of
  `<timestamp>.<body>`. Signing the timestamp with the body lets a receiver refuse an old
  request replayed by someone who captured it (`verify` allows five minutes).

Pending deliveries live in memory: a restart of the controller loses them (the agency page and the
EIDO endpoint still show the current state).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Ngalam112-Signature"
TIMESTAMP_HEADER = "X-Ngalam112-Timestamp"
EVENT_ID_HEADER = "X-Ngalam112-Event-Id"
SIGNATURE_PREFIX = "sha256="
# How old a signed timestamp a receiver accepts (and how far in the future, for clock skew).
DEFAULT_TOLERANCE = 300.0

# Answers worth trying again: the receiver is overloaded or asks us to wait. Any other 4xx (and a
# redirect: a signed body is not forwarded) means it refuses this request and will again.
_RETRY_STATUSES = frozenset({408, 425, 429})


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (Unix seconds, as text)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(
    secret: str | bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """Whether `signature` (the X-Ngalam112-Signature header) is ours for `body` and `timestamp`
    (the X-Ngalam112-Timestamp header), and the timestamp within `tolerance` seconds of `now`.
    Any malformed header is simply not valid: this never raises on what a request carries."""
    if not (0 < len(timestamp) <= 12 and timestamp.isascii() and timestamp.isdigit()):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        return False
    if not (signature.isascii() and signature.startswith(SIGNATURE_PREFIX)):
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def retry_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, …): doubling from `base` up to
    `cap`, then scaled into its upper half by `jitter` in [0, 1), so that receivers coming back
    after an outage are not hit by every sender at the same instant."""
    delay = min(cap, base * 2.0 ** min(attempt - 1, 60))
    return delay * (0.5 + jitter / 2)


@dataclass(frozen=True)
class Delivery:
    """One payload on its way to one agency."""

    event_id: str
    agency_id: str
    url: str
    secret: bytes = field(repr=False)
    body: bytes


@dataclass(frozen=True)
class AgencyStats:
    """What happened to one agency's webhooks since the start."""

    queued: int = 0  # payloads waiting, not counting one being delivered
    attempts: int = 0  # POSTs tried, successful or not
    delivered: int = 0
    failed: int = 0  # given up after the last attempt, or refused by the receiver
    dropped: int = 0  # pushed out of a full queue before any attempt


class _AgencyQueue:
    def __init__(self, size: int):
        self.pending: deque[Delivery] = deque()
        self.size = size
        self.ready = asyncio.Event()
        self.stats = AgencyStats()
        self.worker: asyncio.Task[None] | None = None


class WebhookSender:
    """Signs and delivers each agency's webhooks, in order per agency, never making the caller wait.

    `timeout` bounds one POST; a failed POST is tried again after `retry_delay` up to
    `max_attempts` times in all (defaults: 8 attempts over about ten minutes). Each agency queues at
    most `queue_size` payloads; when full, the oldest waiting one is dropped (and logged) for the new
    one, since a newer status says more than an older one.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        max_attempts: int = 8,
        backoff_base: float = 5.0,
        backoff_cap: float = 300.0,
        queue_size: int = 200,
        jitter: Callable[[], float] = random.random,
        user_agent: str = "Ngalam112-webhooks",
    ):
        if max_attempts < 1 or queue_size < 1 or timeout <= 0:
            raise ValueError("max_attempts and queue_size must be at least 1, timeout positive")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.queue_size = queue_size
        self.jitter = jitter
        self.user_agent = user_agent
        self._agencies: dict[str, _AgencyQueue] = {}
        self._session: aiohttp.ClientSession | None = None
        self._stopped = False

    def send(self, agency_id: str, url: str, secret: str | bytes, payload: Any) -> str:
        """Queue `payload` (JSON-able) for the agency's receiver at `url`; returns its event id at
        once. Raises ValueError or TypeError if the payload is not JSON (then nothing is queued),
        RuntimeError after `stop`. Must be called on the running event loop."""
        if self._stopped:
            raise RuntimeError("the webhook sender is stopped")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url of agency {agency_id} is not http(s): {url!r}")
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
        key = secret.encode("utf-8") if isinstance(secret, str) else secret
        delivery = Delivery(uuid.uuid4().hex, agency_id, url, key, body)
        queue = self._queue(agency_id)
        if len(queue.pending) >= queue.size:
            dropped = queue.pending.popleft()
            queue.stats = replace(queue.stats, dropped=queue.stats.dropped + 1)
            log.warning(
                "webhook queue of agency %s full: dropped event %s unsent",
                agency_id,
                dropped.event_id,
            )
        queue.pending.append(delivery)
        queue.stats = replace(queue.stats, queued=len(queue.pending))
        queue.ready.set()
        return delivery.event_id

    def stats(self, agency_id: str) -> AgencyStats:
        """A snapshot of the agency's counters (all zero for an agency never sent to)."""
        queue = self._agencies.get(agency_id)
        return queue.stats if queue is not None else AgencyStats()

    async def stop(self) -> None:
        """Stop every worker (a delivery in flight is abandoned) and close the connections."""
        self._stopped = True
        workers = [q.worker for q in self._agencies.values() if q.worker is not None]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _queue(self, agency_id: str) -> _AgencyQueue:
        queue = self._agencies.get(agency_id)
        if queue is None:
            queue = self._agencies[agency_id] = _AgencyQueue(self.queue_size)
        if queue.worker is None or queue.worker.done():
            queue.worker = asyncio.get_running_loop().create_task(
                self._work(agency_id, queue), name=f"webhooks-{agency_id}"
            )
        return queue

    async def _work(self, agency_id: str, queue: _AgencyQueue) -> None:
        while True:
            if not queue.pending:
                queue.ready.clear()
                await queue.ready.wait()
                continue
            delivery = queue.pending.popleft()
            queue.stats = replace(queue.stats, queued=len(queue.pending))
            try:
                await self._deliver(delivery, queue)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not end the agency's deliveries for good
                log.exception("webhook event %s of agency %s", delivery.event_id, agency_id)

    async def _deliver(self, delivery: Delivery, queue: _AgencyQueue) -> None:
        for attempt in range(1, self.max_attempts + 1):
            queue.stats = replace(queue.stats, attempts=queue.stats.attempts + 1)
            outcome = await self._post(delivery)
            if outcome == "delivered":
                queue.stats = replace(queue.stats, delivered=queue.stats.delivered + 1)
                return
            if outcome == "refused":
                break
            if attempt < self.max_attempts:
                delay = retry_delay(attempt, self.backoff_base, self.backoff_cap, self.jitter())
                log.info(
                    "webhook event %s of agency %s: attempt %d failed (%s), again in %.1f s",
                    delivery.event_id,
                    delivery.agency_id,
                    attempt,
                    outcome,
                    delay,
                )
                await asyncio.sleep(delay)
        queue.stats = replace(queue.stats, failed=queue.stats.failed + 1)
        log.error(
            "webhook event %s of agency %s not delivered to %s after %d attempt(s)",
            delivery.event_id,
            delivery.agency_id,
            delivery.url,
            attempt,
        )

    async def _post(self, delivery: Delivery) -> str:
        """One attempt: "delivered", "refused" (not worth retrying), or why it may work later."""
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": self.user_agent,
            EVENT_ID_HEADER: delivery.event_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(delivery.secret, timestamp, delivery.body),
        }
        try:
            async with self._client().post(
                delivery.url, data=delivery.body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
        except TimeoutError:
            return "timed out"
        except aiohttp.ClientError as error:
            return f"{type(error).__name__}: {error}"
        if 200 <= status < 300:
            return "delivered"
        if status >= 500 or status in _RETRY_STATUSES:
            return f"HTTP {status}"
        log.warning(
            "webhook event %s of agency %s refused with HTTP %d",
            delivery.event_id,
            delivery.agency_id,
            status,
        )
        return "refused"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session
