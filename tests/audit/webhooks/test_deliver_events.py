"""``manage.py deliver_events``: the worker command, one process or several."""

import subprocess
import sys
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.webhooks.models import WebhookDelivery
from tests.audit.helpers import emit, make_endpoint

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_targets")]


def test_once_delivers_what_is_waiting_and_exits(org, receiver):
    make_endpoint(org, receiver.url)
    emit(org)
    emit(org)
    out = StringIO()

    call_command("deliver_events", "--once", stdout=out)

    assert len(receiver.requests) == 2
    assert "Processed 4 events and deliveries" in out.getvalue()


def test_max_seconds_ends_a_polling_worker(org):
    call_command("deliver_events", "--max-seconds", "0.1", "--sleep", "0.02", stdout=StringIO())


def test_batch_must_be_positive():
    with pytest.raises(CommandError, match="batch"):
        call_command("deliver_events", "--once", "--batch", "0")


def test_worker_processes_sharing_the_database_send_each_event_once(
    org, make_receiver, subprocess_env
):
    receiver = make_receiver(delay=0.01)
    make_endpoint(org, receiver.url)
    events = 20
    for _ in range(events):
        emit(org)
    env = {**subprocess_env, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}
    command = [sys.executable, "manage.py", "deliver_events", "--once", "--batch", "2"]

    workers = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0], results
    sent = Counter(request.headers["webhook-id"] for request in receiver.requests)
    assert len(sent) == events
    assert set(sent.values()) == {1}
    assert set(WebhookDelivery.dangerously_unscoped.values_list("status", "attempts")) == {
        ("succeeded", 1)
    }


@pytest.mark.django_db
def test_the_worker_survives_a_failing_round(monkeypatch):
    from django.core.management import call_command
    from django.db import OperationalError

    from audit.webhooks.delivery import Worker

    rounds = []

    def flaky(self):
        rounds.append(1)
        if len(rounds) == 1:
            raise OperationalError("the database went away for a moment")
        return 0

    monkeypatch.setattr(Worker, "run_once", flaky)
    call_command("deliver_events", "--max-seconds", "0.3", "--sleep", "0.05")
    assert len(rounds) >= 2
