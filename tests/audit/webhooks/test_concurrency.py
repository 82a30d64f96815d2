"""Several workers at once (threads here, processes on several hosts in production) never
deliver the same delivery at the same time, and every event still goes out."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction

from audit.webhooks import delivery as delivery_module
from audit.webhooks.delivery import Worker, claim_due, fan_out
from audit.webhooks.models import WebhookDelivery
from tests.audit.helpers import emit, make_endpoint

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_targets")]

LEASE = timedelta(seconds=60)


def _in_threads(*targets):
    """Run each target in its own thread (its own database connection); re-raise the
    first error in the test."""
    errors = []

    def run(target):
        try:
            target()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    assert not any(thread.is_alive() for thread in threads)


def test_a_claim_skips_deliveries_another_claim_holds(org):
    make_endpoint(org, "https://a.example.test/all")
    for _ in range(6):
        emit(org)
    fan_out(batch=10)
    ids = sorted(WebhookDelivery.dangerously_unscoped.values_list("pk", flat=True))
    held, free = ids[:3], ids[3:]
    holding, finish = threading.Event(), threading.Event()
    claimed = []

    def other_worker_mid_claim():
        with transaction.atomic():
            list(WebhookDelivery.dangerously_unscoped.select_for_update().filter(pk__in=held))
            holding.set()
            # Were the claim below to wait for these rows instead of skipping them, it
            # would still be waiting when this times out, and then get all six.
            finish.wait(timeout=10)

    def this_worker():
        assert holding.wait(timeout=10)
        try:
            claimed.extend(claim_due(worker_id="b", batch=10, lease=LEASE))
        finally:
            finish.set()

    _in_threads(other_worker_mid_claim, this_worker)

    assert sorted(d.pk for d in claimed) == free


def test_two_workers_claim_disjoint_deliveries_and_send_each_event_once(
    org, make_receiver, monkeypatch
):
    receiver = make_receiver(delay=0.005)
    make_endpoint(org, receiver.url)
    events = 30
    for _ in range(events):
        emit(org)
    claims: list[tuple[str, int]] = []
    lock = threading.Lock()
    real_claim_due = delivery_module.claim_due

    def recording_claim_due(**kwargs):
        claimed = real_claim_due(**kwargs)
        with lock:
            claims.extend((kwargs["worker_id"], d.pk) for d in claimed)
        return claimed

    monkeypatch.setattr(delivery_module, "claim_due", recording_claim_due)
    start = threading.Barrier(2)

    def worker(name):
        def run():
            start.wait(timeout=10)
            Worker(batch=3, worker_id=name).run_until_idle()

        return run

    _in_threads(worker("a"), worker("b"))

    claimed_ids = Counter(pk for _, pk in claims)
    assert set(claimed_ids.values()) == {1}  # no delivery claimed twice, by anyone
    assert set(claimed_ids) == set(
        WebhookDelivery.dangerously_unscoped.values_list("pk", flat=True)
    )
    sent = Counter(request.headers["webhook-id"] for request in receiver.requests)
    assert len(sent) == events
    assert set(sent.values()) == {1}
    assert set(WebhookDelivery.dangerously_unscoped.values_list("status", "attempts")) == {
        ("succeeded", 1)
    }
