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
    event = AuditEvent.objects.get(action="user.updated")
    assert event.metadata["via"] == "admin"
    assert "name" in event.metadata["changed"]
