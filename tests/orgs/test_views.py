"""The portal's layout, org resolution and the Members and Organization pages."""

import pytest
from django.core import mail

from accounts.session_store import ORG_KEY
from audit.models import AuditEvent
from orgs.models import Invitation, Membership
from orgs.portal import SESSION_ORG_KEY
from orgs.services import invitation_create
from tests.factories import MembershipFactory, OrgFactory

pytestmark = pytest.mark.django_db


def _new_actions(before):
    return [e.action for e in AuditEvent.dangerously_unscoped.order_by("id")[before:]]


def test_the_portal_reads_the_same_session_org_key_as_sign_in():
    assert SESSION_ORG_KEY == ORG_KEY


def test_static_files_are_served_by_the_app(client):
    css = client.get("/static/portal/portal.css")
    assert css.status_code == 200
    assert b"prefers-color-scheme: dark" in b"".join(css.streaming_content)
    assert client.get("/static/portal/portal.js").status_code == 200


def test_layout_shows_only_the_pages_the_role_may_open(org, portal_member):
    viewer = portal_member(org, role="viewer").get("/").content.decode()
    assert 'href="/settings/organization/"' in viewer
    assert 'href="/settings/api-keys/"' not in viewer
    assert 'href="/settings/webhooks/"' not in viewer
    assert 'href="/settings/security/"' not in viewer
    admin = portal_member(org, role="admin").get("/").content.decode()
    for path in ("api-keys", "members", "audit-log", "webhooks", "organization", "security"):
        assert f'href="/settings/{path}/"' in admin
    assert 'action="/logout/"' in admin  # sign out is a POST form
    assert "csrfmiddlewaretoken" in admin


def test_anonymous_overview_goes_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_person_without_an_org_is_offered_to_create_one(client, user):
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 403
    assert "/orgs/new/" in response.content.decode()


def test_the_subdomain_names_the_org_when_the_person_belongs_to_it(org, portal_member, settings):
    settings.BASE_DOMAIN = "tenantry.test"
    settings.ALLOWED_HOSTS = [".tenantry.test"]
    client = portal_member(org, role="admin")
    second = OrgFactory.create(name="Second Org")
    MembershipFactory.create(org=second, user=client.membership.user, role="viewer")
    on_second = client.get("/", HTTP_HOST=f"{second.slug}.tenantry.test").content.decode()
    assert "Second Org</h1>" in on_second
    on_portal = client.get("/", HTTP_HOST="portal.tenantry.test").content.decode()
    assert f"{org.name}</h1>" in on_portal
    stranger = OrgFactory.create()
    on_stranger = client.get("/", HTTP_HOST=f"{stranger.slug}.tenantry.test").content.decode()
    assert f"{org.name}</h1>" in on_stranger  # not a member there: the session's org


def test_the_switcher_sets_the_session_org_of_ones_own_orgs_only(org, portal_member):
    client = portal_member(org, role="admin")
    second = OrgFactory.create(name="Second Org")
    MembershipFactory.create(org=second, user=client.membership.user, role="viewer")
    response = client.post("/orgs/switch/", {"org_id": second.pk, "next": "/settings/members/"})
    assert response.status_code == 302
    assert response["Location"] == "/settings/members/"
    assert client.session[SESSION_ORG_KEY] == second.pk
    assert "Second Org</h1>" in client.get("/").content.decode()
    stranger = OrgFactory.create()
    assert client.post("/orgs/switch/", {"org_id": stranger.pk}).status_code == 404
    evil = client.post("/orgs/switch/", {"org_id": org.pk, "next": "https://evil.test/"})
    assert evil["Location"] == "/"


def test_members_page_lists_members_for_every_member_but_only_admins_write(org, portal_member):
    member = portal_member(org, role="member")
    page = member.get("/settings/members/")
    assert page.status_code == 200
    assert member.membership.user.email in page.content.decode()
    assert "Send invitation" not in page.content.decode()
    forged = member.post("/settings/members/", {"email": "x@example.test", "role": "viewer"})
    assert forged.status_code == 403
    assert not Invitation.objects.for_org(org).exists()


def test_invite_emails_the_link_and_audits_once(
    org, portal_member, django_capture_on_commit_callbacks
):
    admin = portal_member(org, role="admin")
    before = AuditEvent.dangerously_unscoped.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            "/settings/members/", {"email": "New@Example.test", "role": "developer"}
        )
    assert response.status_code == 302
    assert _new_actions(before) == ["invitation.created"]
    assert mail.outbox[-1].to == ["new@example.test"]
    page = admin.get("/settings/members/").content.decode()
    assert "Invitation sent to new@example.test" in page
    assert "new@example.test" in page.split("<h2>Pending invitations</h2>")[1]


def test_bad_invite_keeps_values_and_shows_the_error_next_to_the_field(org, portal_member):
    admin = portal_member(org, role="admin")
    response = admin.post("/settings/members/", {"email": "not-an-email", "role": "developer"})
    assert response.status_code == 422
    assert "email" in response.context["form"].errors
    assert 'value="not-an-email"' in response.content.decode()


def test_an_admin_cannot_invite_or_promote_an_owner_and_is_told_why(org, portal_member):
    admin = portal_member(org, role="admin")
    refused = admin.post("/settings/members/", {"email": "boss@example.test", "role": "owner"})
    assert refused.status_code == 422
    assert "Only an owner can grant the owner role" in refused.content.decode()
    target = MembershipFactory.create(org=org, role="member")
    before = AuditEvent.dangerously_unscoped.count()
    response = admin.post(f"/settings/members/{target.pk}/role/", {"role": "owner"}, follow=True)
    assert "Only an owner can grant the owner role" in response.content.decode()
    assert _new_actions(before) == []
    target.refresh_from_db()
    assert target.role == "member"


def test_change_role_and_remove_are_audited_once(org, portal_member):
    owner = portal_member(org, role="owner")
    target = MembershipFactory.create(org=org, role="member")
    before = AuditEvent.dangerously_unscoped.count()
    owner.post(f"/settings/members/{target.pk}/role/", {"role": "developer"})
    assert _new_actions(before) == ["member.role_changed"]
    confirm = owner.get(f"/settings/members/{target.pk}/remove/").content.decode()
    assert f"Remove {target.user.email} from {org.name}?" in confirm
    before = AuditEvent.dangerously_unscoped.count()
    owner.post(f"/settings/members/{target.pk}/remove/")
    assert _new_actions(before) == ["member.removed"]
    assert not Membership.objects.for_org(org).filter(pk=target.pk).exists()


def test_the_last_owner_stays_with_the_reason_shown(org, portal_member):
    owner = portal_member(org, role="owner")
    response = owner.post(
        f"/settings/members/{owner.membership.pk}/role/", {"role": "admin"}, follow=True
    )
    assert "An organization must keep at least one owner" in response.content.decode()


def test_invitation_resend_and_revoke(org, portal_member):
    admin = portal_member(org, role="admin")
    invitation, _ = invitation_create(
        org=org, actor=admin_actor(admin), by=None, email="i@example.test", role="member"
    )
    old_hash = invitation.token_hash
    before = AuditEvent.dangerously_unscoped.count()
    admin.post(f"/settings/invitations/{invitation.pk}/resend/")
    assert _new_actions(before) == ["invitation.resent"]
    invitation.refresh_from_db()
    assert invitation.token_hash != old_hash
    before = AuditEvent.dangerously_unscoped.count()
    admin.post(f"/settings/invitations/{invitation.pk}/revoke/")
    assert _new_actions(before) == ["invitation.revoked"]
    again = admin.post(f"/settings/invitations/{invitation.pk}/resend/", follow=True)
    assert "Only a pending invitation can be sent again" in again.content.decode()


def admin_actor(client):
    from audit.actors import Actor

    return Actor.for_user(client.membership.user)


def test_another_orgs_member_and_invitation_are_404(org, other_org, portal_member):
    owner = portal_member(org, role="owner")
    theirs = MembershipFactory.create(org=other_org)
    invitation, _ = invitation_create(
        org=other_org, actor=admin_actor(owner), by=None, email="t@example.test", role="member"
    )
    assert owner.post(f"/settings/members/{theirs.pk}/role/", {"role": "viewer"}).status_code == 404
    assert owner.get(f"/settings/members/{theirs.pk}/remove/").status_code == 404
    assert owner.post(f"/settings/members/{theirs.pk}/remove/").status_code == 404
    assert owner.post(f"/settings/invitations/{invitation.pk}/resend/").status_code == 404
    assert owner.post(f"/settings/invitations/{invitation.pk}/revoke/").status_code == 404


def test_organization_settings(org, portal_member):
    developer = portal_member(org, role="developer")
    page = developer.get("/settings/organization/")
    assert page.status_code == 200
    assert "Only owners and admins rename the organization" in page.content.decode()
    assert developer.post("/settings/organization/", {"name": "Hijacked"}).status_code == 403
    owner = portal_member(org, role="owner")
    before = AuditEvent.dangerously_unscoped.count()
    response = owner.post("/settings/organization/", {"name": "Renamed Inc"})
    assert response.status_code == 302
    assert _new_actions(before) == ["org.updated"]
    org.refresh_from_db()
    assert org.name == "Renamed Inc"
    assert org.jwt_enabled is True  # the switch is on the Security page now
    bad = owner.post("/settings/organization/", {"name": ""})
    assert bad.status_code == 422
    assert "name" in bad.context["form"].errors


def test_admins_read_the_security_page_and_only_owners_change_it(org, portal_member):
    admin = portal_member(org, role="admin")
    page = admin.get("/settings/security/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Owners change these settings; you can read them" in text
    assert 'action="/settings/security/"' not in text  # no form for an admin
    # An admin's write is refused by the role table: the 403 page naming the owners.
    owner = portal_member(org, role="owner")
    refused_switch = admin.post("/settings/security/", {})
    assert refused_switch.status_code == 403
    assert f"Ask an owner of {org.name}" in refused_switch.content.decode()
    assert owner.membership.user.email in refused_switch.content.decode()
    assert admin.membership.user.email not in refused_switch.content.decode().split("Ask")[1]
    refused = admin.post(
        "/settings/security/email-domains/",
        {"allowed_email_domains": "acme.test", "default_role": "member"},
    )
    assert refused.status_code == 403
    org.refresh_from_db()
    assert (org.jwt_enabled, org.allowed_email_domains) == (True, [])
    for role in ("developer", "member", "viewer"):
        assert portal_member(org, role=role).get("/settings/security/").status_code == 403
    before = AuditEvent.dangerously_unscoped.count()
    assert owner.post("/settings/security/", {}).status_code == 302
    org.refresh_from_db()
    assert org.jwt_enabled is False  # the unticked box switched JWT sign-in off
    assert owner.post("/settings/security/", {"jwt_enabled": "on"}).status_code == 302
    org.refresh_from_db()
    assert org.jwt_enabled is True
    assert _new_actions(before) == ["org.updated", "org.updated"]


def test_only_owners_set_the_email_domains(org, portal_member):
    url = "/settings/security/email-domains/"
    owner = portal_member(org, role="owner")
    bad = owner.post(url, {"allowed_email_domains": "not a domain", "default_role": "member"})
    assert bad.status_code == 422
    assert "allowed_email_domains" in bad.context["domains_form"].errors
    assert "not a domain" in bad.content.decode()  # the value is kept
    before = AuditEvent.dangerously_unscoped.count()
    ok = owner.post(
        url, {"allowed_email_domains": "Acme.test\n@corp.test", "default_role": "viewer"}
    )
    assert ok.status_code == 302
    assert _new_actions(before) == ["org.email_domains_changed"]
    org.refresh_from_db()
    assert org.allowed_email_domains == ["acme.test", "corp.test"]
    assert org.default_role == "viewer"
    assert portal_member(org, role="member").post(url, {}).status_code == 403
