"""``record`` writes the lifecycle event in the same transaction as the audit row."""

import pytest
from django.db import transaction

from audit.actors import Actor, RequestContext
from audit.models import AuditEvent, OutboxEvent
from audit.redaction import REDACTED
from audit.services import record
from orgs.audit_actions import ORG_UPDATED
from orgs.models import Organization

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def test_outbox_event_lands_with_its_audit_row(org):
    actor = Actor(
        type="user",
        id="7",
        label="ada@example.test",
        context=RequestContext(ip="203.0.113.9", user_agent="curl/8", request_id="req_abc"),
    )
    with transaction.atomic():
        event = record(
            org_id=org.pk,
            action=ORG_UPDATED,
            actor=actor,
            target=org,
            metadata={"after": {"name": "New"}},
        )

    outbox = OutboxEvent.dangerously_unscoped.get()
    assert outbox.audit_event_id == event.pk
    assert outbox.org_id == org.pk
    assert outbox.type == "org.updated"
    assert outbox.dispatched_at is None
    assert outbox.payload == {
        "id": outbox.public_id,
        "type": "org.updated",
        "timestamp": event.occurred_at.isoformat(),
        "data": {
            "org_id": org.pk,
            "audit_event_id": event.pk,
            "actor": {"type": "user", "id": "7", "label": "ada@example.test"},
            "target": {"type": "orgs.organization", "id": str(org.pk), "label": org.slug},
            "context": {"ip": "203.0.113.9", "user_agent": "curl/8", "request_id": "req_abc"},
            "metadata": {"after": {"name": "New"}},
        },
    }


def test_audit_row_and_outbox_event_roll_back_together(org):
    def write_then_fail():
        with transaction.atomic():
            Organization.objects.filter(pk=org.pk).update(name="Renamed")
            record(org_id=org.pk, action=ORG_UPDATED, actor=Actor.system(), target=org)
            assert OutboxEvent.dangerously_unscoped.count() == 1
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()

    assert AuditEvent.dangerously_unscoped.count() == 0
    assert OutboxEvent.dangerously_unscoped.count() == 0
    org.refresh_from_db()
    assert org.name != "Renamed"


def test_event_payload_carries_redacted_metadata_only(org):
    with transaction.atomic():
        record(
            org_id=org.pk,
            action=ORG_UPDATED,
            actor=Actor.system(),
            metadata={"client_secret": "s3cr3t-value", "nested": {"token": "t0k3n"}},
        )

    payload = OutboxEvent.dangerously_unscoped.get().payload
    assert payload["data"]["metadata"] == {"client_secret": REDACTED, "nested": {"token": REDACTED}}
    assert "s3cr3t-value" not in str(payload)
    assert "t0k3n" not in str(payload)
