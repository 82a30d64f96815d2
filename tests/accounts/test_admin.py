import pytest

from audit.models import AuditEvent
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/orgs/organization/",
        "/admin/orgs/membership/",
        "/admin/audit/auditevent/",
        "/admin/apikeys/apikey/",
    ],
)
def test_staff_can_browse_the_admin(staff_client, org, url):
    MembershipFactory.create(org=org)
    assert staff_client.get(url).status_code == 200


def test_non_staff_are_sent_to_the_admin_login(client, user):
    client.force_login(user)
    assert client.get("/admin/accounts/user/").status_code == 302


def test_staff_edit_of_a_user_is_audited(staff_client, user):
    response = staff_client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {"email": user.email, "name": "Renamed", "is_active": "on", "date_joined_0": "2026-01-01",
         "date_joined_1": "00:00:00"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:500]
    user.refresh_from_db()
    assert user.name == "Renamed"
    event = AuditEvent.dangerously_unscoped.get(action="user.updated")
    assert event.metadata["via"] == "admin"
    assert "name" in event.metadata["changed"]


def test_staff_password_reset_is_audited_and_ends_the_users_sign_ins(staff_client, org, sign_in):
    from rest_framework.test import APIClient

    member = MembershipFactory.create(org=org)
    pair = sign_in(member)
    response = staff_client.post(
        f"/admin/accounts/user/{member.user_id}/password/",
        {"password1": "a-new-staff-set-passphrase", "password2": "a-new-staff-set-passphrase",
         "usable_password": "true"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:800]
    member.user.refresh_from_db()
    assert member.user.check_password("a-new-staff-set-passphrase")
    event = AuditEvent.dangerously_unscoped.get(action="user.password_changed")
    assert event.metadata == {"via": "admin", "families_revoked": 1}
    me = APIClient().get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {pair.access_token}")
    assert me.status_code == 401


def test_the_admin_offers_no_unaudited_bulk_delete(staff_client):
    response = staff_client.get("/admin/accounts/user/")
    assert b"delete_selected" not in response.content


def test_the_admin_password_form_refuses_a_person_with_a_second_factor(client):
    """The admin's form would open a full session on the password alone; such a person
    signs in through /login/ (password, then code) instead."""
    from tests.factories import PASSWORD
    from tests.mfa_helpers import enroll

    staff = UserFactory.create(email="ops@example.test", is_staff=True, is_superuser=True)
    enroll(staff)
    response = client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "two-factor authentication" in response.content.decode()
    assert client.get("/admin/").status_code == 302  # not signed in


def test_the_admin_lists_no_second_factor_devices(staff_client):
    """Devices change only through accounts.mfa (audited); django-otp's admin is gone."""
    assert staff_client.get("/admin/otp_totp/totpdevice/").status_code == 404
