"""On PostgreSQL the audit table refuses UPDATE and DELETE, whoever asks."""

import pytest
from django.db import ProgrammingError, connection, transaction

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import record
from orgs.audit_actions import ORG_UPDATED

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(org):
    with transaction.atomic():
        return record(org_id=org.pk, action=ORG_UPDATED, actor=Actor.system(), target=org)


def _refused(statement):
    # Each attempt in its own savepoint, so the refusal does not poison the test's transaction.
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        statement()


def _sql(sql, params=()):
    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    return run


def test_raw_sql_update_is_refused(event):
    _refused(_sql("UPDATE audit_auditevent SET action = 'forged.action' WHERE id = %s", [event.pk]))
    assert AuditEvent.dangerously_unscoped.get().action == "org.updated"


def test_raw_sql_delete_is_refused(event):
    _refused(_sql("DELETE FROM audit_auditevent WHERE id = %s", [event.pk]))
    assert AuditEvent.dangerously_unscoped.count() == 1


def test_orm_queryset_update_is_refused(event):
    _refused(
        lambda: AuditEvent.dangerously_unscoped.filter(pk=event.pk).update(
            actor_label="someone else"
        )
    )
    assert AuditEvent.dangerously_unscoped.get().actor_label == "system"


def test_orm_instance_save_is_refused(event):
    event.metadata = {"forged": True}
    _refused(event.save)
    assert AuditEvent.dangerously_unscoped.get().metadata == {}


def test_orm_delete_is_refused(event):
    _refused(event.delete)
    _refused(lambda: AuditEvent.dangerously_unscoped.all().delete())
    assert AuditEvent.dangerously_unscoped.count() == 1


def test_purge_switch_is_the_only_way_to_delete_and_does_not_allow_updates(event):
    _refused(
        _sql(
            "SELECT set_config('tenantry.audit_purge', 'on', true);"
            " UPDATE audit_auditevent SET action = 'forged.action'"
        )
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('tenantry.audit_purge', 'on', true)")
        cursor.execute("DELETE FROM audit_outboxevent WHERE audit_event_id = %s", [event.pk])
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.dangerously_unscoped.count() == 0
