import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from audit.models import AuditEvent
from orgs.models import Invitation, Membership, Organization
from tests.factories import PASSWORD, MembershipFactory, OrgFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    """Invite through the API; returns (response body, token read from the invitee's email)."""

    def _invite(client, email, role="member"):
        sent = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/invitations", {"email": email, "role": role}, format="json"
            )
        assert response.status_code == 201, response.content
        assert len(mail.outbox) == sent + 1
        found = re.search(r"inv_[A-Za-z0-9_-]+", str(mail.outbox[-1].body))
        assert found is not None, "the invitation email carries no token"
        return response.json(), found.group(0)

    return _invite


def test_orgs_lists_only_mine_with_my_role(org, other_org, as_member):
    client = as_member(org, role="admin")
    MembershipFactory.create(org=OrgFactory.create(slug="second"), user=client.membership.user)
    body = client.get("/api/orgs").json()
    assert {(o["slug"], o["role"]) for o in body["data"]} == {
        (org.slug, "admin"),
        ("second", "member"),
    }
    assert body["pagination"]["total_items"] == 2


def test_creating_an_org_makes_the_caller_its_owner(org, as_member):
    client = as_member(org, role="viewer")
    response = client.post("/api/orgs", {"slug": "newco", "name": "NewCo"}, format="json")
    assert response.status_code == 201
    new = Organization.objects.get(slug="newco")
    assert response.json()["id"] == new.pk
    assert Membership.objects.for_org(new).get().role == "owner"
    assert AuditEvent.dangerously_unscoped.filter(org_id=new.pk, action="org.created").count() == 1


def test_creating_an_org_with_a_taken_slug_is_409_conflict(org, as_member):
    response = as_member(org).post("/api/orgs", {"slug": org.slug, "name": "X"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "slug" in response.json()["details"]["fieldErrors"]


def test_current_org_read_and_rename(org, as_member):
    admin = as_member(org, role="admin")
    assert admin.get("/api/org").json()["slug"] == org.slug
    response = admin.patch("/api/org", {"name": "Renamed"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert AuditEvent.dangerously_unscoped.get(action="org.updated").metadata["after"] == {
        "name": "Renamed"
    }


def test_member_cannot_rename_the_org(org, as_member):
    response = as_member(org, role="member").patch("/api/org", {"name": "X"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


def test_members_list_is_paginated_sorted_and_filtered(org, other_org, as_member):
    admin = as_member(org, role="admin")
    MembershipFactory.create_batch(3, org=org, role="viewer")
    MembershipFactory.create_batch(2, org=other_org)
    body = admin.get("/api/members?limit=2&sort=-created_at").json()
    assert body["pagination"]["total_items"] == 4
    assert len(body["data"]) == 2
    assert admin.get("/api/members?role=viewer").json()["pagination"]["total_items"] == 3
    assert set(body["data"][0]) == {"id", "org_id", "user", "role", "status", "created_at"}


def test_admin_changes_a_role_and_it_is_audited(org, as_member):
    admin = as_member(org, role="admin")
    member = MembershipFactory.create(org=org, role="member")
    response = admin.patch(f"/api/members/{member.pk}", {"role": "developer"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "developer"
    assert AuditEvent.dangerously_unscoped.filter(action="member.role_changed").count() == 1


def test_nobody_grants_above_their_own_role_over_the_api(org, as_member):
    admin = as_member(org, role="admin")
    member = MembershipFactory.create(org=org, role="member")
    response = admin.patch(f"/api/members/{member.pk}", {"role": "owner"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


def test_last_owner_cannot_be_removed_or_demoted_over_the_api(org, as_member):
    owner = as_member(org, role="owner")
    mine = owner.membership.pk
    demote = owner.patch(f"/api/members/{mine}", {"role": "admin"}, format="json")
    assert demote.status_code == 422
    assert owner.delete(f"/api/members/{mine}").status_code == 422
    assert Membership.objects.for_org(org).get(pk=mine).role == "owner"


def test_bad_role_is_422(org, as_member):
    admin = as_member(org, role="admin")
    member = MembershipFactory.create(org=org)
    response = admin.patch(f"/api/members/{member.pk}", {"role": "emperor"}, format="json")
    assert response.status_code == 422
    assert "role" in response.json()["details"]["fieldErrors"]


def test_remove_member_is_204_and_their_token_stops_working(org, as_member):
    admin = as_member(org, role="admin")
    victim = as_member(org, role="member")
    assert admin.delete(f"/api/members/{victim.membership.pk}").status_code == 204
    assert victim.get("/api/users/me").status_code == 401


def test_another_orgs_member_is_404_never_403(org, other_org, as_member):
    admin = as_member(org, role="admin")
    theirs = MembershipFactory.create(org=other_org)
    for response in (
        admin.get(f"/api/members/{theirs.pk}"),
        admin.patch(f"/api/members/{theirs.pk}", {"role": "viewer"}, format="json"),
        admin.delete(f"/api/members/{theirs.pk}"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert Membership.objects.for_org(other_org).get(pk=theirs.pk).role == "member"


def test_invitation_round_trip_for_a_new_user(org, as_member, invite):
    admin = as_member(org, role="admin")
    body, token = invite(admin, "New@Example.test", role="developer")
    assert (body["email"], body["role"], body["status"]) == (
        "new@example.test",
        "developer",
        "pending",
    )
    assert "token" not in body  # the inviter never holds the invitee's proof of mailbox
    assert token not in str(body)
    assert mail.outbox[-1].to == ["new@example.test"]
    listed = admin.get("/api/invitations").json()["data"]
    assert token not in str(listed)
    assert token not in str(list(AuditEvent.dangerously_unscoped.values()))

    accept = APIClient().post(
        "/api/invitations/accept",
        {"token": token, "password": "a-brand-new-passphrase", "name": "Newbie"},
        format="json",
    )
    assert accept.status_code == 200, accept.content
    assert accept.json()["role"] == "developer"
    login = APIClient().post(
        "/api/auth/login",
        {"email": "new@example.test", "password": "a-brand-new-passphrase", "org_slug": org.slug},
        format="json",
    )
    assert login.status_code == 200
    assert AuditEvent.dangerously_unscoped.filter(action="invitation.accepted").count() == 1


def test_invitation_is_single_use(org, as_member, invite):
    admin = as_member(org, role="admin")
    user = UserFactory.create(email="known@example.test")
    _, token = invite(admin, user.email)
    body = {"token": token, "password": PASSWORD}
    assert APIClient().post("/api/invitations/accept", body, format="json").status_code == 200
    again = APIClient().post("/api/invitations/accept", body, format="json")
    assert again.status_code == 401


def test_existing_account_must_prove_its_password_to_accept(org, as_member, invite):
    admin = as_member(org, role="admin")
    user = UserFactory.create(email="known@example.test")
    _, token = invite(admin, user.email)
    response = APIClient().post(
        "/api/invitations/accept", {"token": token, "password": "guess"}, format="json"
    )
    assert response.status_code == 401
    assert not Membership.objects.for_org(org).filter(user=user).exists()


def test_revoked_invitation_cannot_be_accepted(org, as_member, invite):
    admin = as_member(org, role="admin")
    created, token = invite(admin, "x@example.test")
    assert admin.delete(f"/api/invitations/{created['id']}").status_code == 204
    response = APIClient().post(
        "/api/invitations/accept", {"token": token, "password": "whatever-long-enough"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 401
    assert AuditEvent.dangerously_unscoped.filter(action="invitation.revoked").count() == 1


def test_expired_invitation_cannot_be_accepted(org, as_member, invite):
    from datetime import timedelta

    from django.utils import timezone

    admin = as_member(org, role="admin")
    _, token = invite(admin, "x@example.test")
    Invitation.objects.for_org(org).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = APIClient().post(
        "/api/invitations/accept", {"token": token, "password": "whatever-long-enough"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 401


def test_cannot_invite_above_own_role(org, as_member):
    admin = as_member(org, role="admin")
    response = admin.post(
        "/api/invitations", {"email": "x@example.test", "role": "owner"}, format="json"
    )
    assert response.status_code == 403


def test_members_without_member_write_cannot_invite(org, as_member):
    developer = as_member(org, role="developer")
    response = developer.post(
        "/api/invitations", {"email": "x@example.test", "role": "viewer"}, format="json"
    )
    assert response.status_code == 403


def test_duplicate_pending_invitation_is_409_conflict(org, as_member):
    admin = as_member(org, role="admin")
    admin.post("/api/invitations", {"email": "x@example.test", "role": "member"}, format="json")
    again = admin.post(
        "/api/invitations", {"email": "X@example.test", "role": "member"}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"


def test_another_orgs_invitation_is_404(org, other_org, as_member, invite):
    admin = as_member(org, role="admin")
    theirs = as_member(other_org, role="admin")
    created, _ = invite(theirs, "x@example.test")
    assert admin.get(f"/api/invitations/{created['id']}").status_code == 404
    assert admin.delete(f"/api/invitations/{created['id']}").status_code == 404


def test_resend_an_invitation_over_the_api(org, as_member):
    from audit.actors import Actor
    from orgs.services import invitation_create

    admin = as_member(org, role="admin")
    invitation, _ = invitation_create(
        org=org, actor=Actor.system(), by=None, email="again@example.test", role="member"
    )
    old = invitation.token_hash
    response = admin.post(f"/api/invitations/{invitation.pk}/resend")
    assert response.status_code == 200
    assert response.json()["email"] == "again@example.test"
    assert "token" not in response.json()
    invitation.refresh_from_db()
    assert invitation.token_hash != old
    developer = as_member(org, role="developer")
    assert developer.post(f"/api/invitations/{invitation.pk}/resend").status_code == 403
    admin.delete(f"/api/invitations/{invitation.pk}")
    refused = admin.post(f"/api/invitations/{invitation.pk}/resend")
    assert refused.status_code == 409  # no longer pending: a conflict with its state
    assert refused.json()["code"] == "conflict"
