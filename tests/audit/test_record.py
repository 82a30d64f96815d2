import pytest
from django.db import transaction

from audit.actors import Actor
from audit.models import AuditEvent
from audit.redaction import REDACTED
from audit.registry import AuditAction, DuplicateAuditAction, register
from audit.services import AuditOutsideTransaction, record
from orgs.audit_actions import ORG_UPDATED

pytestmark = pytest.mark.django_db(transaction=True)


def test_record_refuses_to_run_outside_a_transaction():
    with pytest.raises(AuditOutsideTransaction):
        record(org_id=1, action=ORG_UPDATED, actor=Actor.system())
    assert AuditEvent.dangerously_unscoped.count() == 0


def test_record_refuses_unregistered_action():
    with transaction.atomic(), pytest.raises(ValueError, match="unregistered"):
        record(org_id=1, action=AuditAction("made.up", "x"), actor=Actor.system())


def test_registering_an_action_twice_is_refused():
    with pytest.raises(DuplicateAuditAction):
        register("org.updated", "again")


def test_action_names_must_be_resource_dot_verb():
    with pytest.raises(ValueError, match=r"resource\.verb"):
        register("OrgUpdated", "bad name")


def test_secrets_in_metadata_are_redacted():
    with transaction.atomic():
        event = record(
            org_id=1,
            action=ORG_UPDATED,
            actor=Actor.system(),
            metadata={
                "password": "hunter2",
                "nested": {"refresh_token": "abc", "ok": 1},
                "api_key_id": 7,
                "items": [{"secret": "s"}],
            },
        )
    event.refresh_from_db()
    assert event.metadata == {
        "password": REDACTED,
        "nested": {"refresh_token": REDACTED, "ok": 1},
        "api_key_id": 7,
        "items": [{"secret": REDACTED}],
    }


def test_names_about_a_secret_are_kept_and_secrets_are_not():
    with transaction.atomic():
        event = record(
            org_id=1,
            action=ORG_UPDATED,
            actor=Actor.system(),
            metadata={
                "new_key_id": 9,
                "old_key_ends_at": "2026-01-01T00:00:00Z",
                "key_prefix": "tnt_live_ab12",
                "raw_key": "tnt_live_x",
                "webhook_secret": "whsec_x",
                "apikey": "x",
                "password2": "x",
                "X-Api-Token": "x",
            },
        )
    event.refresh_from_db()
    assert event.metadata == {
        "new_key_id": 9,
        "old_key_ends_at": "2026-01-01T00:00:00Z",
        "key_prefix": "tnt_live_ab12",
        "raw_key": REDACTED,
        "webhook_secret": REDACTED,
        "apikey": REDACTED,
        "password2": REDACTED,
        "X-Api-Token": REDACTED,
    }
