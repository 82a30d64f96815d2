import pytest
from django.db import transaction

from audit.actors import Actor
from audit.services import record
from audit.webhooks.models import WebhookEndpoint
from audit.webhooks.signing import generate_secret
from orgs.audit_actions import ORG_UPDATED
from tests.audit.webhooks.receiver import Receiver


@pytest.fixture
def local_targets(settings):
    """Receivers in these tests listen on 127.0.0.1 over plain HTTP."""
    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 5
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 30
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 6 * 3600
    settings.WEBHOOK_BACKOFF_JITTER = 0.1
    settings.WEBHOOK_MAX_ATTEMPTS = 12


@pytest.fixture
def make_receiver():
    started = []

    def make(statuses=(200,), delay=0.0):
        receiver = Receiver(statuses, delay).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def receiver(make_receiver):
    return make_receiver()


def make_endpoint(org, url, **fields):
    """An endpoint row without the create service, so its own webhook.created event does
    not join the traffic a test counts."""
    return WebhookEndpoint.objects.create(org=org, url=url, secret=generate_secret(), **fields)


def emit(org, action=ORG_UPDATED, **metadata):
    with transaction.atomic():
        return record(org_id=getattr(org, "pk", org), action=action, actor=Actor.system(),
                      metadata=metadata)  # fmt: skip


class Clock:
    """The worker's idea of now, moved by hand so retries need no waiting."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now
