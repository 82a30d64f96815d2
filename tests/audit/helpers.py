"""Helpers for the audit and webhook tests (fixtures live in the conftest files)."""

from contextlib import contextmanager
from datetime import datetime
from unittest import mock

from django.db import transaction

from audit.actors import Actor
from audit.services import record
from audit.webhooks.models import WebhookEndpoint
from audit.webhooks.signing import generate_secret
from orgs.audit_actions import ORG_UPDATED


@contextmanager
def frozen_now(moment: datetime):
    """``auto_now_add`` stamps with ``django.utils.timezone.now``; an audit row cannot be
    back-dated after the fact (the table is append-only), so it is written in the past."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def record_at(moment: datetime, *, org_id, action=ORG_UPDATED, actor=None, **kwargs):
    with frozen_now(moment), transaction.atomic():
        return record(org_id=org_id, action=action, actor=actor or Actor.system(), **kwargs)


class Target:
    """Stands in for another app's model instance as an audit target: ``record`` only reads
    its ``pk`` and ``str()`` (give ``target_type`` alongside)."""

    def __init__(self, pk, label=""):
        self.pk = pk
        self.label = label or f"target {pk}"

    def __str__(self):
        return self.label


def emit(org, action=ORG_UPDATED, **metadata):
    """One audited write's worth of event, now."""
    with transaction.atomic():
        return record(org_id=getattr(org, "pk", org), action=action, actor=Actor.system(),
                      metadata=metadata)  # fmt: skip


def make_endpoint(org, url, **fields):
    """An endpoint row without the create service, so its own webhook.created event does
    not join the traffic a test counts."""
    return WebhookEndpoint.objects.create(org=org, url=url, secret=generate_secret(), **fields)


class Clock:
    """The worker's idea of now, moved by hand so retries need no waiting."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now
