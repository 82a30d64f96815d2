"""``audit.services.audited_update``: the one lock-diff-save-record path of every update."""

import pytest
from django.core.exceptions import ObjectDoesNotExist

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audited_update
from orgs.audit_actions import MEMBER_ROLE_CHANGED
from orgs.models import Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _update(org, membership, changes, describe=lambda m: {"role": m.role}):
    return audited_update(
        rows=Membership.objects.for_org(org),
        pk=membership.pk,
        changes=lambda _m: changes,
        describe=describe,
        action=MEMBER_ROLE_CHANGED,
        actor=Actor.system(),
        org_id=lambda m: m.org_id,
    )


def test_a_change_is_saved_and_recorded_with_before_and_after(org):
    membership = MembershipFactory.create(org=org, role="member")
    updated = _update(org, membership, {"role": "admin"})
    assert Membership.objects.for_org(org).get().role == updated.role == "admin"
    event = AuditEvent.objects.for_org(org).get()
    assert event.metadata == {"before": {"role": "member"}, "after": {"role": "admin"}}


def test_a_no_op_writes_and_records_nothing(org):
    membership = MembershipFactory.create(org=org, role="member")
    _update(org, membership, {"role": "member"})
    assert not AuditEvent.objects.for_org(org).exists()


def test_a_change_the_description_hides_is_still_named(org):
    membership = MembershipFactory.create(org=org, role="member")
    _update(org, membership, {"role": "viewer"}, describe=lambda m: {"role": "(hidden)"})
    event = AuditEvent.objects.for_org(org).get()
    assert event.metadata == {"before": {"role": "(hidden)"}, "after": {"role": "(hidden)"}}


def test_another_orgs_row_is_not_found(org, other_org):
    theirs = MembershipFactory.create(org=other_org, role="member")
    with pytest.raises(ObjectDoesNotExist):
        _update(org, theirs, {"role": "owner"})
    assert Membership.objects.for_org(other_org).get().role == "member"
