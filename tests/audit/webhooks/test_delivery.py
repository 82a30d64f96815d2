"""Fan-out and delivery: signed POSTs to a real local receiver, retries, leases."""

import json
import logging
import socket
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.actors import Actor
from audit.models import OutboxEvent
from audit.retention import audit_purge
from audit.webhooks.delivery import (
    Worker,
    backoff_seconds,
    claim_due,
    fan_out,
    record_outcome,
)
from audit.webhooks.models import WebhookDelivery
from audit.webhooks.services import webhook_endpoint_create
from orgs.audit_actions import MEMBER_ADDED, ORG_UPDATED
from tests.audit.helpers import Clock, emit, frozen_now, make_endpoint
from tests.audit.webhooks.receiver import verify_standard_webhook
from tests.factories import OrgFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_targets")]

Status = WebhookDelivery.Status
LEASE = timedelta(seconds=60)


def _free_url():
    # A port nothing listens on: bind, note it, close.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


def _delivery():
    return WebhookDelivery.dangerously_unscoped.get()


# --- What is sent ----------------------------------------------------------------------


def test_event_is_posted_as_json_signed_so_an_independent_receiver_verifies_it(
    org, receiver, caplog
):
    created = webhook_endpoint_create(
        org=org, actor=Actor.system(), url=receiver.url, event_types=["org.updated"]
    )
    event = emit(org, after={"name": "Renamed"})
    caplog.set_level(logging.DEBUG)

    Worker().run_until_idle()

    [request] = receiver.requests
    outbox = OutboxEvent.dangerously_unscoped.get(audit_event=event)
    assert request.path == "/hooks/tenantry"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == outbox.public_id
    assert json.loads(request.body) == outbox.payload
    assert verify_standard_webhook(
        secret=created.secret, headers=request.headers, body=request.body
    )
    delivery = _delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.SUCCEEDED,
        1,
        200,
    )
    assert delivery.delivered_at is not None
    assert delivery.locked_until is None
    key_material = created.secret.removeprefix("whsec_")
    assert key_material not in caplog.text


def test_fan_out_reaches_enabled_matching_endpoints_of_the_events_org_only(org, other_org):
    every = make_endpoint(org, "https://a.example.test/all")
    members_only = make_endpoint(org, "https://b.example.test/m", event_types=["member.added"])
    make_endpoint(org, "https://c.example.test/off", enabled=False)
    make_endpoint(other_org, "https://d.example.test/theirs")
    emit(org, ORG_UPDATED)
    emit(org, MEMBER_ADDED)
    emit(None, ORG_UPDATED)  # a platform event: no org, no endpoints

    assert fan_out(batch=10) == 3

    assert set(WebhookDelivery.dangerously_unscoped.values_list("endpoint_id", "event__type")) == {
        (every.pk, "org.updated"),
        (every.pk, "member.added"),
        (members_only.pk, "member.added"),
    }
    assert set(WebhookDelivery.dangerously_unscoped.values_list("org_id", flat=True)) == {org.pk}
    assert not OutboxEvent.dangerously_unscoped.filter(dispatched_at__isnull=True).exists()


def test_fan_out_takes_each_event_once(org):
    make_endpoint(org, "https://a.example.test/all")
    emit(org)

    assert fan_out(batch=10) == 1
    assert fan_out(batch=10) == 0
    assert WebhookDelivery.dangerously_unscoped.count() == 1


def test_an_endpoint_does_not_receive_events_from_before_it_existed(org):
    with frozen_now(timezone.now() - timedelta(minutes=5)):
        emit(org)
    make_endpoint(org, "https://a.example.test/all")

    fan_out(batch=10)

    assert not WebhookDelivery.dangerously_unscoped.exists()


def test_fan_out_costs_the_same_queries_for_one_event_or_many(org, other_org):
    for target in (org, other_org):
        make_endpoint(target, "https://a.example.test/all")
        make_endpoint(target, "https://b.example.test/all")
    emit(org)
    with CaptureQueriesContext(connection) as one:
        fan_out(batch=50)
    for n in range(20):
        emit(org if n % 2 else other_org)
    with CaptureQueriesContext(connection) as many:
        fan_out(batch=50)

    assert WebhookDelivery.dangerously_unscoped.count() == 2 + 20 * 2
    assert len(many.captured_queries) == len(one.captured_queries)


# --- Retries -----------------------------------------------------------------------------


def test_failed_attempt_is_retried_with_backoff_then_succeeds(org, make_receiver):
    receiver = make_receiver(statuses=[500, 200])
    created = webhook_endpoint_create(
        org=org, actor=Actor.system(), url=receiver.url, event_types=["org.updated"]
    )
    emit(org)
    clock = Clock(timezone.now())
    worker = Worker(clock=clock)

    worker.run_until_idle()

    delivery = _delivery()
    assert (delivery.status, delivery.attempts) == (Status.FAILED, 1)
    assert (delivery.last_status_code, delivery.last_error) == (500, "HTTP 500")
    assert delivery.locked_until is None
    assert clock.now + timedelta(seconds=27) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= clock.now + timedelta(seconds=33)

    worker.run_until_idle()  # not due yet
    assert len(receiver.requests) == 1

    clock.now = delivery.next_attempt_at
    worker.run_until_idle()

    delivery = _delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.SUCCEEDED,
        2,
        200,
    )
    assert (delivery.delivered_at, delivery.last_error) == (clock.now, "")
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    for request in (first, second):
        assert verify_standard_webhook(
            secret=created.secret, headers=request.headers, body=request.body
        )


def test_delivery_is_dead_after_the_last_attempt_with_doubling_waits(org, make_receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    settings.WEBHOOK_BACKOFF_JITTER = 0
    receiver = make_receiver(statuses=[503])
    make_endpoint(org, receiver.url)
    emit(org)
    clock = Clock(timezone.now())
    worker = Worker(clock=clock)
    waits = []

    for _ in range(4):
        worker.run_until_idle()
        delivery = _delivery()
        if delivery.status == Status.FAILED:
            waits.append((delivery.next_attempt_at - clock.now).total_seconds())
            clock.now = delivery.next_attempt_at

    assert waits == [30, 60, 120]
    delivery = _delivery()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        Status.DEAD,
        4,
        "HTTP 503",
    )
    assert len(receiver.requests) == 4
    clock.now += timedelta(days=1)
    assert worker.run_until_idle() == 0


def test_backoff_doubles_from_the_base_up_to_the_cap(settings):
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 30
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 3600
    settings.WEBHOOK_BACKOFF_JITTER = 0.1

    assert [backoff_seconds(n, jitter=0) for n in (1, 2, 3, 4, 7, 8, 50)] == [
        30,
        60,
        120,
        240,
        1920,
        3600,
        3600,
    ]
    assert backoff_seconds(1, jitter=-1) == pytest.approx(27)
    assert backoff_seconds(1, jitter=1) == pytest.approx(33)
    assert all(27 <= backoff_seconds(1) <= 33 for _ in range(50))


@pytest.mark.parametrize(
    ("statuses", "error"),
    [
        pytest.param([307], "HTTP 307", id="redirect-not-followed"),
        pytest.param([404], "HTTP 404", id="client-error"),
        pytest.param([204], None, id="204-is-success"),
    ],
)
def test_only_a_2xx_answer_is_success(org, make_receiver, statuses, error):
    receiver = make_receiver(statuses=statuses)
    make_endpoint(org, receiver.url)
    emit(org)

    Worker().run_until_idle()

    delivery = _delivery()
    assert delivery.status == (Status.SUCCEEDED if error is None else Status.FAILED)
    assert delivery.last_error == (error or "")
    assert len(receiver.requests) == 1


def test_no_answer_is_a_failed_attempt_with_the_reason(org):
    make_endpoint(org, _free_url())
    emit(org)

    Worker().run_until_idle()

    delivery = _delivery()
    assert (delivery.status, delivery.last_status_code) == (Status.FAILED, None)
    assert "ConnectionRefused" in delivery.last_error


def test_private_address_is_refused_at_send_time_unless_allowed(org, receiver, settings):
    make_endpoint(org, receiver.url)  # stored before the rule changed
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    emit(org)

    Worker().run_until_idle()

    assert receiver.requests == []
    assert "cannot be delivered to" in _delivery().last_error


def test_deliveries_of_a_disabled_endpoint_wait(org, receiver):
    endpoint = make_endpoint(org, receiver.url)
    emit(org)
    fan_out(batch=10)
    endpoint.enabled = False
    endpoint.save()

    Worker().run_until_idle()
    assert receiver.requests == []

    endpoint.enabled = True
    endpoint.save()
    Worker().run_until_idle()
    assert len(receiver.requests) == 1


# --- Leases ------------------------------------------------------------------------------


def test_a_leased_delivery_is_not_claimed_again_until_the_lease_runs_out(org):
    make_endpoint(org, "https://a.example.test/all")
    emit(org)
    now = timezone.now()
    fan_out(batch=10, now=now)

    [claimed] = claim_due(worker_id="a", batch=10, lease=LEASE, now=now)
    assert claim_due(worker_id="b", batch=10, lease=LEASE, now=now + LEASE / 2) == []
    [reclaimed] = claim_due(worker_id="b", batch=10, lease=LEASE, now=now + LEASE)

    assert reclaimed.pk == claimed.pk
    assert reclaimed.attempts == 2  # the lost attempt counts
    # The first worker wakes up late: its outcome no longer applies.
    assert not record_outcome(claimed, worker_id="a", status_code=200, error="")
    assert record_outcome(reclaimed, worker_id="b", status_code=200, error="")
    assert _delivery().status == Status.SUCCEEDED


def test_a_delivery_whose_worker_died_on_the_last_attempt_is_dead(org, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    make_endpoint(org, "https://a.example.test/all")
    emit(org)
    now = timezone.now()
    fan_out(batch=10, now=now)
    claim_due(worker_id="a", batch=10, lease=LEASE, now=now)

    assert claim_due(worker_id="b", batch=10, lease=LEASE, now=now + LEASE) == []

    delivery = _delivery()
    assert (delivery.status, delivery.attempts) == (Status.DEAD, 1)
    assert "final attempt" in delivery.last_error


def test_purging_an_event_removes_its_deliveries(org, receiver):
    make_endpoint(org, receiver.url)
    with frozen_now(timezone.now() - timedelta(days=400)):
        emit(org)
        fan_out(batch=10)

    audit_purge(actor=Actor.system())

    assert not WebhookDelivery.dangerously_unscoped.exists()


def test_secret_never_lands_in_a_stored_error(org, make_receiver):
    receiver = make_receiver(statuses=[500])
    created = webhook_endpoint_create(org=org, actor=Actor.system(), url=receiver.url)

    Worker().run_until_idle()

    delivery = WebhookDelivery.dangerously_unscoped.get()
    assert created.secret.removeprefix("whsec_") not in delivery.last_error
    assert delivery.last_error == "HTTP 500"


def test_other_orgs_are_unaffected_by_an_orgs_failing_receiver(org, make_receiver):
    failing = make_receiver(statuses=[500])
    working = make_receiver()
    other = OrgFactory.create()
    make_endpoint(org, failing.url)
    make_endpoint(other, working.url)
    emit(org)
    emit(other)

    Worker().run_until_idle()

    statuses = dict(WebhookDelivery.dangerously_unscoped.values_list("org_id", "status"))
    assert statuses == {org.pk: Status.FAILED, other.pk: Status.SUCCEEDED}
