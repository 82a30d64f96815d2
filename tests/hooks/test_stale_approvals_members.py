"""What changes while a pre-write hook decides (roles, invitations, the portal): the write
re-reads under its lock and refuses what the hook did not approve, never writing on stale
rows nor answering a 500.

The hook is faked in-process (the ``deciding`` fixture, tests/hooks/conftest.py): it makes
the concurrent change while "deciding", then approves; the services' own transactions then
see that change, as they would see another request's commit."""

import json

import pytest

from audit.actors import Actor
from hooks.models import PreWriteHook
from orgs.errors import Conflict
from orgs.models import Invitation, Membership
from orgs.services import membership_set_role
from tests.factories import MembershipFactory
from tests.hooks.conftest import ERROR_KEYS, make_hook, post_json, set_role

pytestmark = pytest.mark.django_db


def _patch(client, path, body):
    return client.patch(path, data=json.dumps(body), content_type="application/json")


# 1. The member whose role changes


def test_a_role_change_approved_for_a_member_who_became_owner_meanwhile_is_409(
    org, as_member, deciding
):
    owner = as_member(org, role="owner")
    target = MembershipFactory.create(org=org, role="member")
    shown = deciding(lambda: set_role(target, "owner"))
    response = _patch(owner, f"/api/members/{target.pk}", {"role": "admin"})
    assert response.status_code == 409, response.content
    assert set(response.json()) == ERROR_KEYS
    assert shown[0][1]["role_before"] == "member"
    target.refresh_from_db()
    assert target.role == "owner"  # not demoted on an approval about a member


def test_a_role_change_decided_on_a_stale_role_skips_no_hook(org, deciding):
    """The caller read the member as admin (so "set admin" would ask no hook); the row is
    a member by now: the write refuses instead of promoting without the hook."""
    target = MembershipFactory.create(org=org, role="admin")
    stale = Membership.objects.for_org(org).get(pk=target.pk)
    set_role(target, "member")
    shown = deciding(lambda: None)
    with pytest.raises(Conflict):
        membership_set_role(org=org, actor=Actor.system(), membership=stale, role="admin", by=None)
    assert shown == []
    target.refresh_from_db()
    assert target.role == "member"


# 3. The acting member, and a key's creator


def test_an_admin_demoted_while_the_hook_decides_cannot_change_a_role(org, as_member, deciding):
    admin = as_member(org, role="admin")
    target = MembershipFactory.create(org=org, role="member")
    deciding(lambda: set_role(admin.membership, "viewer"))
    response = _patch(admin, f"/api/members/{target.pk}", {"role": "developer"})
    assert response.status_code == 403, response.content
    assert set(response.json()) == ERROR_KEYS
    target.refresh_from_db()
    assert target.role == "member"


def test_an_admin_removed_while_the_hook_decides_cannot_invite(org, as_member, deciding):
    admin = as_member(org, role="admin")
    deciding(lambda: Membership.objects.for_org(org).filter(pk=admin.membership.pk).delete())
    response = post_json(admin, "/api/invitations", {"email": "new@example.test", "role": "member"})
    assert response.status_code == 403, response.content
    assert set(response.json()) == ERROR_KEYS
    assert not Invitation.objects.for_org(org).exists()


def test_an_admin_demoted_while_the_hook_decides_cannot_invite_above_the_new_role(
    org, as_member, deciding
):
    admin = as_member(org, role="admin")
    deciding(lambda: set_role(admin.membership, "developer"))
    response = post_json(admin, "/api/invitations", {"email": "new@example.test", "role": "admin"})
    assert response.status_code == 403, response.content
    assert not Invitation.objects.for_org(org).exists()


# 4. The portal


def test_the_portal_says_a_member_removed_while_the_hook_decides_is_gone(
    org, portal_member, deciding
):
    owner = portal_member(org, role="owner")
    target = MembershipFactory.create(org=org, role="member")
    deciding(lambda: Membership.objects.for_org(org).filter(pk=target.pk).delete())
    response = owner.post(f"/settings/members/{target.pk}/role/", {"role": "admin"}, follow=True)
    assert response.status_code == 200
    assert "this member was removed meanwhile" in response.content.decode()


def test_the_portal_test_of_a_hook_deleted_meanwhile_is_a_404(
    org, portal_member, monkeypatch, local_targets
):
    import hooks.views
    from hooks.services import hook_send_test

    hook = make_hook(org, "http://127.0.0.1:9/")
    owner = portal_member(org, role="owner")

    def deleted_first(**kwargs):
        PreWriteHook.objects.for_org(org).filter(pk=hook.pk).delete()
        return hook_send_test(**kwargs)

    monkeypatch.setattr(hooks.views, "hook_send_test", deleted_first)
    response = owner.post(f"/settings/hooks/{hook.pk}/test/")
    assert response.status_code == 404
