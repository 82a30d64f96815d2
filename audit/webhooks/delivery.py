"""Fan-out and delivery of lifecycle events to webhook endpoints (``manage.py deliver_events``).

Any number of workers, on any number of hosts, may run at once. What keeps them apart:

* **Fan-out** takes undispatched outbox events with ``SELECT ... FOR UPDATE SKIP LOCKED``,
  creates one delivery per matching enabled endpoint of the event's org and marks the events
  dispatched, all in one transaction. Two workers never take the same event; were an event
  ever fanned out twice, the unique (org, endpoint, event) constraint absorbs it.
* **Delivery** claims with a *lease*, not with a row lock held over the HTTP request. One
  short transaction takes due deliveries with ``FOR UPDATE SKIP LOCKED``, sets
  ``locked_until = now + lease`` and ``locked_by`` and counts the attempt, and commits. The
  worker then sends, outside any transaction, and records the outcome with an UPDATE that
  applies only while the lease is still its own. Other workers skip rows that are locked
  (during a claim) or leased (after it), so a delivery is sent by one worker at a time.

  Holding ``FOR UPDATE`` across the POST would keep a transaction open for as long as the
  slowest receiver cares to take, times the batch: a pooled connection pinned "idle in
  transaction", vacuum held back, and our database's health tied to strangers' servers.
  With a lease every transaction lasts milliseconds, and the deliveries of a worker that
  dies come back by themselves when its lease runs out. The price is the at-least-once
  edge: a worker stalled past its lease may find its delivery already re-sent by another;
  receivers deduplicate on ``webhook-id``, as Standard Webhooks asks of them anyway.

Retries: a non-2xx answer (redirects included) or no answer is a failed attempt; the next
is due after ``WEBHOOK_BACKOFF_BASE_SECONDS * 2**(attempt-1)``, capped at
``WEBHOOK_BACKOFF_MAX_SECONDS``, +/- ``WEBHOOK_BACKOFF_JITTER`` so that the deliveries
of a receiver that was down do not all return at the same second. After
``WEBHOOK_MAX_ATTEMPTS`` the delivery is ``dead``.
"""

import json
import logging
import os
import random
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.models import OutboxEvent
from audit.webhooks import transport
from audit.webhooks.models import MAX_ERROR_LENGTH, WebhookDelivery, WebhookEndpoint
from audit.webhooks.signing import SECRET_PREFIX, signed_headers
from tenancy.rls import cross_org

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status
RETRYABLE = [Status.PENDING, Status.FAILED]
_jitter = random.SystemRandom()


def backoff_seconds(attempt: int, *, jitter: float | None = None) -> float:
    """The wait after failed attempt number ``attempt`` (1-based). ``jitter`` in [-1, 1]
    picks the point in the jitter band (random when omitted)."""
    base = float(settings.WEBHOOK_BACKOFF_BASE_SECONDS)
    delay = min(base * 2 ** min(attempt - 1, 32), float(settings.WEBHOOK_BACKOFF_MAX_SECONDS))
    sample = _jitter.uniform(-1.0, 1.0) if jitter is None else jitter
    return delay * (1.0 + float(settings.WEBHOOK_BACKOFF_JITTER) * sample)


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def fan_out(*, batch: int, now: datetime | None = None) -> int:
    """Turn up to ``batch`` undispatched outbox events into deliveries, oldest first.
    Returns how many events were taken. Safe to run concurrently; idempotent."""
    now = now or timezone.now()
    with transaction.atomic():
        events = list(
            OutboxEvent.dangerously_unscoped.select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True)
            .order_by("created_at")
            .only("id", "org_id", "type", "created_at")[:batch]
        )
        if not events:
            return 0
        endpoints: defaultdict[int, list[WebhookEndpoint]] = defaultdict(list)
        org_ids = {event.org_id for event in events if event.org_id is not None}
        # System code spanning orgs, hence unscoped; each event only meets its own org's.
        # Locked (in id order, so two fan-outs never deadlock): an endpoint being deleted
        # meanwhile waits for this transaction, or is seen gone, instead of failing the new
        # deliveries' foreign key at commit.
        for endpoint in (
            WebhookEndpoint.dangerously_unscoped.filter(org_id__in=org_ids, enabled=True)
            .select_for_update(of=("self",))
            .order_by("pk")
            .only("id", "org_id", "event_types", "created_at")
        ):
            endpoints[endpoint.org_id].append(endpoint)
        deliveries: list[WebhookDelivery] = []
        for event in events:
            if event.org_id is None:  # a platform event: no org, so no endpoints
                continue
            deliveries.extend(
                WebhookDelivery(
                    org_id=event.org_id, endpoint=endpoint, event=event, next_attempt_at=now
                )
                for endpoint in endpoints[event.org_id]
                # An endpoint hears events from its creation on, never older ones.
                if endpoint.accepts(event.type) and endpoint.created_at <= event.created_at
            )
        WebhookDelivery.dangerously_unscoped.bulk_create(deliveries, ignore_conflicts=True)
        OutboxEvent.dangerously_unscoped.filter(pk__in=[event.pk for event in events]).update(
            dispatched_at=now
        )
    return len(events)


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def claim_due(
    *, worker_id: str, batch: int, lease: timedelta, now: datetime | None = None
) -> list[WebhookDelivery]:
    """Lease up to ``batch`` due deliveries of enabled endpoints to ``worker_id`` and count
    their attempt. Commits before returning: no lock outlives this call."""
    now = now or timezone.now()
    max_attempts = int(settings.WEBHOOK_MAX_ATTEMPTS)
    with transaction.atomic():
        due = list(
            WebhookDelivery.dangerously_unscoped.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint", "event")
            .filter(status__in=RETRYABLE, next_attempt_at__lte=now, endpoint__enabled=True)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .order_by("next_attempt_at", "id")[:batch]
        )
        # Attempts used up but not finished: a worker died (or lost its lease) during the
        # last one. Counting it as the last attempt keeps a delivery that kills workers
        # from killing them forever.
        exhausted = [d.pk for d in due if d.attempts >= max_attempts]
        if exhausted:
            WebhookDelivery.dangerously_unscoped.filter(pk__in=exhausted).update(
                status=Status.DEAD,
                locked_until=None,
                locked_by="",
                last_error="the worker stopped during the final attempt",
            )
        claimed = [d for d in due if d.attempts < max_attempts]
        if claimed:
            WebhookDelivery.dangerously_unscoped.filter(pk__in=[d.pk for d in claimed]).update(
                locked_until=now + lease, locked_by=worker_id, attempts=F("attempts") + 1
            )
    for delivery in claimed:
        delivery.attempts += 1
        delivery.locked_until = now + lease
        delivery.locked_by = worker_id
    return claimed


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def release(deliveries: list[WebhookDelivery], *, worker_id: str) -> None:
    """Hand back claimed deliveries that were not attempted after all."""
    WebhookDelivery.dangerously_unscoped.filter(
        pk__in=[d.pk for d in deliveries], locked_by=worker_id
    ).update(locked_until=None, locked_by="", attempts=F("attempts") - 1)


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def record_outcome(
    delivery: WebhookDelivery,
    *,
    worker_id: str,
    status_code: int | None,
    error: str,
    now: datetime | None = None,
) -> bool:
    """Store the result of the attempt just made: ``succeeded`` on 2xx (``error`` empty),
    else ``failed`` with the next attempt scheduled, or ``dead`` after the last one.
    Applies only while the lease is still ``worker_id``'s; returns whether it did."""
    now = now or timezone.now()
    fields: dict[str, object] = {
        "locked_until": None,
        "locked_by": "",
        "last_status_code": status_code,
        "last_error": error[:MAX_ERROR_LENGTH],
    }
    if not error:
        fields.update(status=Status.SUCCEEDED, delivered_at=now)
    elif delivery.attempts >= int(settings.WEBHOOK_MAX_ATTEMPTS):
        fields.update(status=Status.DEAD)
    else:
        wait = timedelta(seconds=backoff_seconds(delivery.attempts))
        fields.update(status=Status.FAILED, next_attempt_at=now + wait)
    applied = WebhookDelivery.dangerously_unscoped.filter(
        pk=delivery.pk, locked_by=worker_id, attempts=delivery.attempts, status__in=RETRYABLE
    ).update(**fields)
    if not applied:
        logger.warning("webhook delivery %s: lease lost, outcome not recorded", delivery.pk)
    return bool(applied)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[:128]


class Worker:
    """One worker: fan out, then deliver what is due, in batches. ``clock`` gives the
    database time (claims, schedules); it is a parameter so tests can move it forward."""

    def __init__(
        self,
        *,
        batch: int = 10,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = timezone.now,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.batch = batch
        self.worker_id = worker_id or new_worker_id()
        self.clock = clock

    def run_once(self) -> int:
        """One round of fan-out and delivery. Returns the work done (0 when idle)."""
        return fan_out(batch=self.batch, now=self.clock()) + self.deliver_due()

    def run_until_idle(self) -> int:
        total = 0
        while done := self.run_once():
            total += done
        return total

    def deliver_due(self) -> int:
        timeout = float(settings.WEBHOOK_TIMEOUT_SECONDS)
        # A request ends within one timeout (transport.exchange's deadline), except while
        # a hanging DNS resolver runs out its own timeout; 3 timeouts per request leave room
        # for that, and the lease covers the whole batch at that pace.
        per_request = 3 * timeout
        lease = timedelta(seconds=max(60.0, self.batch * per_request))
        started = time.monotonic()
        claimed = claim_due(
            worker_id=self.worker_id, batch=self.batch, lease=lease, now=self.clock()
        )
        for index, delivery in enumerate(claimed):
            if time.monotonic() - started + per_request > lease.total_seconds():
                # Slow receivers ate the lease: what is left goes back rather than risk a
                # second worker sending it at the same time.
                release(claimed[index:], worker_id=self.worker_id)
                break
            self._attempt(delivery)
        return len(claimed)

    def _attempt(self, delivery: WebhookDelivery) -> None:
        endpoint, event = delivery.endpoint, delivery.event
        body = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = signed_headers(
            secret=endpoint.secret, msg_id=event.public_id, timestamp=int(time.time()), body=body
        )
        status_code: int | None = None
        error = ""
        try:
            status_code = transport.post(
                endpoint.url,
                body=body,
                headers=headers,
                timeout=float(settings.WEBHOOK_TIMEOUT_SECONDS),
                allow_private=bool(settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS),
            )
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except transport.DeliveryError as exc:
            error = str(exc)
        except Exception:
            # A bug here must cost this attempt, not the worker: the batch goes on.
            logger.exception("webhook delivery %s: unexpected error", delivery.pk)
            error = "internal error while sending"
        logger.info(
            "webhook delivery %s (%s) to endpoint %s, attempt %s: %s",
            delivery.pk,
            event.public_id,
            endpoint.pk,
            delivery.attempts,
            error or f"HTTP {status_code}",
        )
        record_outcome(
            delivery,
            worker_id=self.worker_id,
            status_code=status_code,
            error=_without_secret(error, endpoint.secret),
            now=self.clock(),
        )


def _without_secret(text: str, secret: str) -> str:
    # Errors are built from exception text, which has no way to hold the secret; this is
    # the cheap guarantee that a stored error never does either.
    for needle in (secret, secret.removeprefix(SECRET_PREFIX)):
        if needle:
            text = text.replace(needle, "[redacted]")
    return text
