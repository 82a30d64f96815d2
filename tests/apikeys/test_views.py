"""Settings > API Keys in the portal: the same rules as the API, a key shown once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apikeys.models import APIKey
from apikeys.services import api_key_create
from audit.actors import Actor
from audit.models import AuditEvent
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

URL = "/settings/api-keys/"


def _new_actions(before):
    return [e.action for e in AuditEvent.dangerously_unscoped.order_by("id")[before:]]


def _key(org, membership, name="k", **fields):
    return api_key_create(org=org, actor=Actor.system(), creator=membership, name=name, **fields)


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/settings/api-keys/"


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_member_and_viewer_get_who_to_ask(org, portal_member, role):
    owner = MembershipFactory.create(org=org, role="owner")
    response = portal_member(org, role=role).get(URL)
    assert response.status_code == 403
    text = response.content.decode()
    assert f"Ask an owner or admin of {org.name}" in text
    assert owner.user.email in text


def test_a_forged_create_post_by_a_viewer_is_refused(org, portal_member):
    viewer = portal_member(org, role="viewer")
    response = viewer.post(f"{URL}new/", {"name": "sneaky", "env": "live"})
    assert response.status_code == 403
    assert not APIKey.objects.for_org(org).exists()


def test_create_shows_the_key_once_with_no_store(org, portal_member):
    admin = portal_member(org, role="admin")
    before = AuditEvent.dangerously_unscoped.count()
    response = admin.post(
        f"{URL}new/",
        {
            "name": "CI pipeline",
            "env": "live",
            "expires_at": (timezone.now() + timedelta(days=30)).date().isoformat(),
            "scopes": ["api_key:read"],
            "allowed_origins": "https://app.example.test",
            "allowed_ips": "203.0.113.0/24",
        },
    )
    assert response.status_code == 302
    assert _new_actions(before) == ["api_key.created"]
    key = APIKey.objects.for_org(org).get()
    assert key.scopes == ["api_key:read"]
    assert key.allowed_ips == ["203.0.113.0/24"]
    shown = admin.get(response["Location"])
    assert shown.status_code == 200
    assert shown["Cache-Control"] == "no-store"
    text = shown.content.decode()
    assert "You will not see this key again" in text
    raw = text.split('id="secret-value">')[1].split("<")[0]
    assert raw.startswith("tnt_live_")
    assert raw.endswith(key.last_four)
    again = admin.get(response["Location"])
    assert again.status_code == 302
    assert raw not in admin.get(again["Location"]).content.decode()


def test_bad_input_re_renders_with_the_message_next_to_the_field(org, portal_member):
    admin = portal_member(org, role="admin")
    response = admin.post(
        f"{URL}new/",
        {
            "name": "x" * 101,
            "env": "live",
            "expires_at": "2001-01-01",
            "allowed_ips": "not-an-ip",
            "allowed_origins": "ftp://nope",
        },
    )
    assert response.status_code == 422
    form = response.context["form"]
    assert "name" in form.errors
    assert form.data["allowed_ips"] == "not-an-ip"  # values kept
    response = admin.post(
        f"{URL}new/",
        {"name": "ok", "env": "live", "expires_at": "2001-01-01", "allowed_ips": "nope"},
    )
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert errors["expires_at"] == ["Must be in the future"]
    assert errors["allowed_ips"] == ["Not an IP address or CIDR: nope"]
    assert "Must be in the future" in response.content.decode()
    assert not APIKey.objects.for_org(org).exists()


def test_developer_sees_only_own_keys_admin_sees_all(org, portal_member):
    developer = portal_member(org, role="developer")
    admin = portal_member(org, role="admin")
    _key(org, developer.membership, name="dev-key")
    _key(org, admin.membership, name="admin-key")
    dev_page = developer.get(URL).content.decode()
    assert "dev-key" in dev_page
    assert "admin-key" not in dev_page
    admin_page = admin.get(URL).content.decode()
    assert "dev-key" in admin_page
    assert "admin-key" in admin_page


def test_status_filter(org, portal_member):
    admin = portal_member(org, role="admin")
    _live, _ = _key(org, admin.membership, name="live-one")
    gone, _ = _key(org, admin.membership, name="gone-one")
    admin.post(f"{URL}{gone.pk}/revoke/", follow=True)  # the flash message is read here
    active = admin.get(f"{URL}?status=active").content.decode()
    assert "live-one" in active
    assert "gone-one" not in active
    revoked = admin.get(f"{URL}?status=revoked").content.decode()
    assert "gone-one" in revoked
    assert "live-one" not in revoked


def test_revoke_confirms_naming_the_key_then_revokes_once(org, portal_member):
    admin = portal_member(org, role="admin")
    key, _ = _key(org, admin.membership, name="CI pipeline")
    confirm = admin.get(f"{URL}{key.pk}/revoke/").content.decode()
    assert f"Revoke key CI pipeline ({key.prefix}…{key.last_four})?" in confirm
    assert "Requests with this key will fail immediately" in confirm
    before = AuditEvent.dangerously_unscoped.count()
    response = admin.post(f"{URL}{key.pk}/revoke/", follow=True)
    assert "Key CI pipeline" in response.content.decode()
    assert _new_actions(before) == ["api_key.revoked"]
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_developer_cannot_revoke_someone_elses_key(org, portal_member):
    developer = portal_member(org, role="developer")
    other = MembershipFactory.create(org=org, role="admin")
    key, _ = _key(org, other)
    assert developer.post(f"{URL}{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_another_orgs_key_is_404(org, other_org, portal_member):
    admin = portal_member(org, role="owner")
    theirs, _ = _key(other_org, MembershipFactory.create(org=other_org, role="owner"))
    assert admin.get(f"{URL}{theirs.pk}/revoke/").status_code == 404
    assert admin.post(f"{URL}{theirs.pk}/revoke/").status_code == 404
    assert admin.post(f"{URL}{theirs.pk}/roll/", {"grace_seconds": "0"}).status_code == 404


def test_roll_shows_the_new_key_once_and_keeps_the_old_for_the_grace(org, portal_member):
    developer = portal_member(org, role="developer")
    old, _ = _key(org, developer.membership, name="svc")
    before = AuditEvent.dangerously_unscoped.count()
    response = developer.post(f"{URL}{old.pk}/roll/", {"grace_seconds": "3600"})
    assert response.status_code == 302
    assert _new_actions(before) == ["api_key.rolled"]
    old.refresh_from_db()
    assert old.replaced_by_id is not None
    assert old.status_at(timezone.now()) == "active"
    shown = developer.get(response["Location"])
    assert shown["Cache-Control"] == "no-store"
    assert "You will not see this key again" in shown.content.decode()


def test_roll_of_someone_elses_key_says_why(org, portal_member):
    admin = portal_member(org, role="admin")
    theirs, _ = _key(org, MembershipFactory.create(org=org, role="developer"))
    response = admin.post(f"{URL}{theirs.pk}/roll/", {"grace_seconds": "0"})
    assert response.status_code == 422
    assert "Only the key&#x27;s creator can roll it" in response.content.decode()


def test_bad_roll_input_is_a_form_error(org, portal_member):
    developer = portal_member(org, role="developer")
    key, _ = _key(org, developer.membership)
    response = developer.post(f"{URL}{key.pk}/roll/", {"grace_seconds": "99"})
    assert response.status_code == 422
    assert "grace_seconds" in response.context["form"].errors
