"""``manage.py purge_audit``: each org's retention, nothing younger, and audited itself."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import ProgrammingError, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.models import AuditEvent, OutboxEvent
from audit.retention import audit_purge, retention_days
from tests.audit.helpers import record_at
from tests.factories import OrgFactory

DAY = timedelta(days=1)


@pytest.fixture
def default_retention(settings):
    settings.AUDIT_RETENTION_DAYS = 90
    return 90


@pytest.fixture
def aged_events(default_retention):
    now = timezone.now()
    short = OrgFactory.create(settings={"audit_retention_days": 30})
    default = OrgFactory.create()
    invalid = OrgFactory.create(settings={"audit_retention_days": "forever"})
    rows = {
        "short_old": record_at(now - 31 * DAY, org_id=short.pk),
        "short_young": record_at(now - 29 * DAY, org_id=short.pk),
        "default_old": record_at(now - 91 * DAY, org_id=default.pk),
        "default_young": record_at(now - 40 * DAY, org_id=default.pk),
        "invalid_old": record_at(now - 91 * DAY, org_id=invalid.pk),
        "invalid_young": record_at(now - 40 * DAY, org_id=invalid.pk),
        "platform_old": record_at(now - 91 * DAY, org_id=None),
        "platform_young": record_at(now - 89 * DAY, org_id=None),
    }
    return {"short": short, "default": default, "invalid": invalid}, rows


def _purged_events():
    return {
        e.org_id: e.metadata
        for e in AuditEvent.dangerously_unscoped.filter(action="audit.purged").order_by()
    }


@pytest.mark.django_db(transaction=True)
def test_purge_deletes_only_events_older_than_each_orgs_retention(aged_events):
    _, rows = aged_events
    out = StringIO()

    call_command("purge_audit", stdout=out)

    remaining = set(
        AuditEvent.dangerously_unscoped.exclude(action="audit.purged").values_list("pk", flat=True)
    )
    assert remaining == {rows[name].pk for name in rows if name.endswith("_young")}
    assert set(OutboxEvent.dangerously_unscoped.values_list("audit_event_id", flat=True)) == set(
        AuditEvent.dangerously_unscoped.values_list("pk", flat=True)
    )
    assert "Deleted 4 audit events in total" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_purge_records_one_audit_purged_event_per_org_with_the_count(aged_events):
    orgs, _ = aged_events

    call_command("purge_audit", stdout=StringIO())

    purged = _purged_events()
    assert set(purged) == {orgs["short"].pk, orgs["default"].pk, orgs["invalid"].pk, None}
    assert purged[orgs["short"].pk]["count"] == 1
    assert purged[orgs["short"].pk]["retention_days"] == 30
    assert purged[orgs["default"].pk]["retention_days"] == 90
    purge_event = AuditEvent.dangerously_unscoped.get(
        action="audit.purged", org_id=orgs["short"].pk
    )
    assert (purge_event.actor_type, purge_event.actor_label) == (
        "system",
        "manage.py purge_audit",
    )
    assert OutboxEvent.dangerously_unscoped.filter(
        audit_event=purge_event, type="audit.purged"
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_purge_of_an_org_with_nothing_expired_records_nothing(aged_events):
    call_command("purge_audit", stdout=StringIO())
    before = AuditEvent.dangerously_unscoped.count()

    call_command("purge_audit", stdout=StringIO())

    assert AuditEvent.dangerously_unscoped.count() == before


@pytest.mark.django_db(transaction=True)
def test_purge_dry_run_counts_and_deletes_nothing(aged_events):
    before = AuditEvent.dangerously_unscoped.count()
    out = StringIO()

    call_command("purge_audit", "--dry-run", stdout=out)

    assert AuditEvent.dangerously_unscoped.count() == before
    assert "Would delete 4 audit events in total" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_events_of_a_deleted_org_keep_the_default_retention(default_retention):
    org = OrgFactory.create(settings={"audit_retention_days": 1})
    old = record_at(timezone.now() - 10 * DAY, org_id=org.pk)
    org.delete()

    call_command("purge_audit", stdout=StringIO())

    assert AuditEvent.dangerously_unscoped.filter(pk=old.pk).exists()


@pytest.mark.django_db
def test_deletes_are_refused_again_after_a_purge_in_the_same_transaction(aged_events):
    audit_purge(actor=Actor.system())

    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        AuditEvent.dangerously_unscoped.all().delete()


@pytest.mark.parametrize(
    ("org_settings", "expected"),
    [
        ({"audit_retention_days": 30}, 30),
        ({}, 90),
        (None, 90),
        ({"audit_retention_days": 0}, 90),
        ({"audit_retention_days": -5}, 90),
        ({"audit_retention_days": "30"}, 90),
        ({"audit_retention_days": True}, 90),
    ],
)
def test_retention_days_falls_back_to_the_default_unless_a_positive_integer(
    default_retention, org_settings, expected
):
    assert retention_days(org_settings) == expected
