"""The unused-key sweep: owners are emailed a week before, then exactly the keys past the
policy's limit are revoked, each audited as the system."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from apikeys.models import APIKey
from apikeys.services import api_key_create, api_key_policy_set, api_keys_sweep_unused
from audit.actors import Actor
from audit.models import AuditEvent
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
DAY = timedelta(days=1)


def _key(org, creator, *, idle_days, warned_days_ago=None, **fields):
    key = api_key_create(org=org, actor=SYSTEM, creator=creator, name="k", **fields)[0]
    now = timezone.now()
    APIKey.objects.for_org(org).filter(pk=key.pk).update(
        created_at=now - timedelta(days=idle_days + 100),
        last_used_at=now - timedelta(days=idle_days),
        unused_warned_at=now - timedelta(days=warned_days_ago) if warned_days_ago else None,
    )
    return APIKey.objects.for_org(org).get(pk=key.pk)


@pytest.fixture
def owner(org):
    return MembershipFactory.create(org=org, role="owner")


def test_the_sweep_revokes_exactly_the_keys_past_the_limit_and_audits_each(org, owner):
    api_key_policy_set(org=org, actor=SYSTEM, by=None, changes={"revoke_unused_after_days": 30})
    past = [_key(org, owner, idle_days=31, warned_days_ago=8) for _ in range(2)]
    used_lately = _key(org, owner, idle_days=5, warned_days_ago=8)  # used after the notice
    almost = _key(org, owner, idle_days=29, warned_days_ago=8)  # told; a day to go
    used_today = _key(org, owner, idle_days=0)
    never_used = api_key_create(org=org, actor=SYSTEM, creator=owner, name="new")[0]
    already_revoked = _key(org, owner, idle_days=90, warned_days_ago=60)
    APIKey.objects.for_org(org).filter(pk=already_revoked.pk).update(revoked_at=timezone.now())
    events_before = AuditEvent.objects.for_org(org).count()

    call_command("revoke_unused_api_keys")

    revoked = set(
        APIKey.objects.for_org(org).filter(revoked_reason="unused").values_list("pk", flat=True)
    )
    assert revoked == {k.pk for k in past}
    for key in (used_lately, almost, used_today, never_used):
        assert APIKey.objects.for_org(org).get(pk=key.pk).revoked_at is None
    events = AuditEvent.objects.for_org(org).filter(action="api_key.revoked_unused")
    assert {e.target_id for e in events} == {str(k.pk) for k in past}
    assert {(e.actor_type, e.actor_label) for e in events} == {
        ("system", "manage.py revoke_unused_api_keys")
    }
    assert all(e.metadata["unused_days"] == 30 for e in events)
    assert AuditEvent.objects.for_org(org).count() == events_before + 2


def test_owners_are_emailed_a_week_before_and_only_once(
    org, owner, django_capture_on_commit_callbacks
):
    admin = MembershipFactory.create(org=org, role="admin")
    api_key_policy_set(org=org, actor=SYSTEM, by=None, changes={"revoke_unused_after_days": 30})
    soon = _key(org, owner, idle_days=24)  # 6 days left
    later = _key(org, owner, idle_days=20)  # 10 days left: not yet
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        result = api_keys_sweep_unused(org=org, actor=SYSTEM)

    assert [k.pk for k in result.warned] == [soon.pk]
    assert result.revoked == []
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [owner.user.email]  # owners only, not the admin
    assert admin.user.email not in message.to
    assert f"{soon.prefix}…{soon.last_four}" in message.body
    assert f"{later.prefix}…{later.last_four}" not in message.body
    event = AuditEvent.objects.for_org(org).get(action="api_key.unused_warning_sent")
    assert (event.target_id, event.actor_type) == (str(soon.pk), "system")
    # The next day's run sends nothing again, and revokes nothing before the week is out.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        again = api_keys_sweep_unused(org=org, actor=SYSTEM, now=timezone.now() + DAY)
    assert (again.warned, again.revoked, mail.outbox) == ([], [], [])
    # A week after the notice, past the limit: revoked.
    final = api_keys_sweep_unused(org=org, actor=SYSTEM, now=timezone.now() + 7 * DAY + DAY)
    assert [k.pk for k in final.revoked] == [soon.pk]


def test_a_key_already_past_the_limit_is_told_of_before_it_is_revoked(org, owner):
    stale = _key(org, owner, idle_days=200)
    api_key_policy_set(org=org, actor=SYSTEM, by=None, changes={"revoke_unused_after_days": 30})
    first = api_keys_sweep_unused(org=org, actor=SYSTEM)
    assert ([k.pk for k in first.warned], first.revoked) == ([stale.pk], [])
    assert APIKey.objects.for_org(org).get(pk=stale.pk).revoked_at is None
    later = api_keys_sweep_unused(org=org, actor=SYSTEM, now=timezone.now() + 7 * DAY + DAY)
    assert [k.pk for k in later.revoked] == [stale.pk]


def test_orgs_without_the_rule_and_dry_runs_are_left_alone(org, other_org, owner):
    theirs = _key(other_org, MembershipFactory.create(org=other_org, role="owner"), idle_days=400)
    api_key_policy_set(org=org, actor=SYSTEM, by=None, changes={"revoke_unused_after_days": 30})
    ours = _key(org, owner, idle_days=40, warned_days_ago=10)
    call_command("revoke_unused_api_keys", "--dry-run")
    assert APIKey.objects.for_org(org).get(pk=ours.pk).revoked_at is None
    call_command("revoke_unused_api_keys")
    assert APIKey.objects.for_org(org).get(pk=ours.pk).revoked_at is not None
    assert APIKey.objects.for_org(other_org).get(pk=theirs.pk).revoked_at is None
    assert (
        not AuditEvent.objects.for_org(other_org)
        .filter(action__in=["api_key.revoked_unused", "api_key.unused_warning_sent"])
        .exists()
    )
