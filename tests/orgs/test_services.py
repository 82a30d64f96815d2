import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from audit.actors import Actor, RequestContext
from audit.models import AuditEvent
from orgs.context import OrgContext
from orgs.models import Membership, Organization
from orgs.services import (
    membership_add,
    membership_remove,
    membership_set_role,
    org_create,
    org_update,
)
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def acting_as(membership, scopes=None):
    return OrgContext(
        membership=membership, credential="jwt" if scopes is None else "api_key", scopes=scopes
    )


def test_org_create_makes_owner_and_audits_both_writes(user):
    actor = Actor(
        type="user", id=str(user.pk), label=user.email, user_id=user.pk,
        context=RequestContext(ip="203.0.113.9", user_agent="pytest", request_id="req_1"),
    )  # fmt: skip
    org = org_create(actor=actor, slug="Acme", name=" Acme Corp ", owner=user)
    assert (org.slug, org.name) == ("acme", "Acme Corp")
    membership = Membership.objects.for_org(org).get()
    assert (membership.user, membership.role) == (user, "owner")
    events = list(AuditEvent.dangerously_unscoped.filter(org_id=org.pk).order_by("id"))
    assert [e.action for e in events] == ["org.created"]
    assert events[0].actor_label == user.email
    assert (events[0].ip, events[0].user_agent, events[0].request_id) == (
        "203.0.113.9", "pytest", "req_1",
    )  # fmt: skip
    assert events[0].metadata == {"slug": "acme", "name": "Acme Corp", "owner_id": user.pk}


def test_audit_failure_rolls_the_write_back(user, monkeypatch):
    def broken_insert(*args, **kwargs):
        raise IntegrityError("audit table unavailable")

    monkeypatch.setattr(AuditEvent.objects, "create", broken_insert)
    with pytest.raises(IntegrityError):
        org_create(actor=SYSTEM, slug="acme", name="Acme", owner=user)
    assert not Organization.objects.filter(slug="acme").exists()
    assert Membership.dangerously_unscoped.count() == 0


def test_audit_failure_on_a_later_event_rolls_back_earlier_ones(org, monkeypatch):
    real_create = AuditEvent.objects.create
    calls = []

    def fail_second(**kwargs):
        calls.append(kwargs["action"])
        if len(calls) == 2:
            raise IntegrityError("boom")
        return real_create(**kwargs)

    monkeypatch.setattr(AuditEvent.objects, "create", fail_second)
    first, second = UserFactory.create(), UserFactory.create()

    def two_writes_in_one_transaction():
        with transaction.atomic():
            membership_add(org=org, actor=SYSTEM, user=first, role="member", by=None)
            membership_add(org=org, actor=SYSTEM, user=second, role="member", by=None)

    with pytest.raises(IntegrityError):
        two_writes_in_one_transaction()
    assert Membership.objects.for_org(org).count() == 0
    assert not AuditEvent.dangerously_unscoped.exists()


def test_duplicate_slug_is_a_validation_error_regardless_of_case(user, org):
    with pytest.raises(ValidationError) as info:
        org_create(actor=SYSTEM, slug=org.slug.upper(), name="Other", owner=user)
    assert "slug" in info.value.message_dict


@pytest.mark.parametrize("slug", ["a", "has space", "x" * 65, "ünï"])
def test_bad_slug_is_refused(user, slug):
    with pytest.raises(ValidationError):
        org_create(actor=SYSTEM, slug=slug, name="Name", owner=user)
    assert not Organization.objects.exists()


def test_org_update_audits_before_and_after(org):
    org_update(org=org, actor=SYSTEM, name="Renamed", jwt_enabled=False)
    event = AuditEvent.dangerously_unscoped.get(action="org.updated")
    assert event.metadata == {
        "before": {"name": org.name, "jwt_enabled": True},
        "after": {"name": "Renamed", "jwt_enabled": False},
    }


def test_org_update_without_change_writes_nothing(org):
    org_update(org=org, actor=SYSTEM, name=org.name)
    assert not AuditEvent.dangerously_unscoped.exists()


def test_role_change_is_audited_with_before_and_after(org):
    owner = MembershipFactory.create(org=org, role="owner")
    member = MembershipFactory.create(org=org, role="member")
    membership_set_role(
        org=org, actor=SYSTEM, membership=member, role="developer", by=acting_as(owner)
    )
    member.refresh_from_db()
    assert member.role == "developer"
    event = AuditEvent.dangerously_unscoped.get(action="member.role_changed")
    assert event.metadata == {"before": {"role": "member"}, "after": {"role": "developer"}}
    assert event.target_id == str(member.pk)


def test_nobody_grants_a_role_above_their_own(org):
    admin = MembershipFactory.create(org=org, role="admin")
    member = MembershipFactory.create(org=org, role="member")
    with pytest.raises(PermissionDenied):
        membership_set_role(
            org=org, actor=SYSTEM, membership=member, role="owner", by=acting_as(admin)
        )
    developer = MembershipFactory.create(org=org, role="developer")
    with pytest.raises(PermissionDenied):
        membership_set_role(
            org=org, actor=SYSTEM, membership=member, role="admin", by=acting_as(developer)
        )
    member.refresh_from_db()
    assert member.role == "member"
    assert not AuditEvent.dangerously_unscoped.exists()


def test_admin_cannot_demote_an_owner(org):
    owner = MembershipFactory.create(org=org, role="owner")
    MembershipFactory.create(org=org, role="owner")
    admin = MembershipFactory.create(org=org, role="admin")
    with pytest.raises(PermissionDenied):
        membership_set_role(
            org=org, actor=SYSTEM, membership=owner, role="member", by=acting_as(admin)
        )


def test_last_owner_cannot_be_demoted_or_removed(org):
    owner = MembershipFactory.create(org=org, role="owner")
    with pytest.raises(ValidationError):
        membership_set_role(
            org=org, actor=SYSTEM, membership=owner, role="admin", by=acting_as(owner)
        )
    with pytest.raises(ValidationError):
        membership_remove(org=org, actor=SYSTEM, membership=owner, by=acting_as(owner))
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_an_owner_may_step_down_when_another_remains(org):
    owner = MembershipFactory.create(org=org, role="owner")
    MembershipFactory.create(org=org, role="owner")
    membership_set_role(org=org, actor=SYSTEM, membership=owner, role="admin", by=acting_as(owner))
    owner.refresh_from_db()
    assert owner.role == "admin"


def test_remove_member_is_audited(org):
    member = MembershipFactory.create(org=org, role="member")
    membership_remove(org=org, actor=SYSTEM, membership=member, by=None)
    assert not Membership.objects.for_org(org).filter(pk=member.pk).exists()
    event = AuditEvent.dangerously_unscoped.get(action="member.removed")
    assert event.target_label == member.user.email


def test_membership_add_refuses_duplicates(org):
    member = MembershipFactory.create(org=org)
    with pytest.raises(ValidationError):
        membership_add(org=org, actor=SYSTEM, user=member.user, role="viewer", by=None)


def test_membership_add_audits(org):
    user = UserFactory.create()
    membership_add(org=org, actor=SYSTEM, user=user, role="viewer", by=None)
    event = AuditEvent.dangerously_unscoped.get(action="member.added")
    assert (event.org_id, event.target_label) == (org.pk, user.email)


def test_a_scoped_key_cannot_use_its_owners_owner_rights(org):
    owner = MembershipFactory.create(org=org, role="owner")
    member = MembershipFactory.create(org=org, role="member")
    narrow = acting_as(owner, scopes=frozenset({"member:write"}))
    with pytest.raises(PermissionDenied):
        membership_set_role(org=org, actor=SYSTEM, membership=member, role="owner", by=narrow)
    other_owner = MembershipFactory.create(org=org, role="owner")
    with pytest.raises(PermissionDenied):
        membership_remove(org=org, actor=SYSTEM, membership=other_owner, by=narrow)


@pytest.mark.django_db(transaction=True)
def test_concurrent_joins_of_one_user_give_one_member_and_a_validation_error(org):
    import threading

    from django.db import connection

    user = UserFactory.create()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def join():
        try:
            barrier.wait()
            membership_add(org=org, actor=SYSTEM, user=user, role="member", by=None)
            outcomes.append("joined")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=join) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["joined", "refused"]
    assert Membership.objects.for_org(org).filter(user=user).count() == 1
