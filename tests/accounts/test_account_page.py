"""/account/: the person's sessions, sign out one, sign out other devices."""

import pytest
from django.test import Client

from accounts.services import browser_session_open
from audit.actors import RequestContext
from audit.models import AuditEvent
from orgs.models import Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _browser(user, org, ua):
    client = Client()
    client.cookies["tnt_session"] = browser_session_open(
        user=user, org_id=org.pk, context=RequestContext(ip="192.0.2.7", user_agent=ua)
    )
    return client


def _ids(page):
    import re

    return re.findall(r'data-session-id="([^"]+)"', page)


def test_the_page_needs_a_sign_in(client):
    assert client.get("/account/")["Location"].startswith("/login/?next=/account/")


def test_the_page_lists_every_session_and_marks_this_one(org, owner, sign_in):
    laptop = _browser(owner, org, "Firefox laptop")
    _browser(owner, org, "Safari phone")
    sign_in(Membership.objects.for_org(org).get(user=owner))
    page = laptop.get("/account/").content.decode()
    assert len(_ids(page)) == 3
    assert "Firefox laptop" in page
    assert "Safari phone" in page
    assert "API sign-in" in page
    assert page.count("This device") == 1
    assert "Sign out other devices" in page


def test_signing_out_another_device_ends_it(org, owner):
    laptop = _browser(owner, org, "laptop")
    phone = _browser(owner, org, "phone")
    current_row = phone.get("/api/users/me/sessions").json()["data"]
    phone_id = next(r["id"] for r in current_row if r["current"])
    response = laptop.post(f"/account/sessions/{phone_id}/end/")
    assert response.status_code == 302
    assert phone.get("/account/").status_code == 302  # back to the sign-in page
    assert laptop.get("/account/").status_code == 200
    assert AuditEvent.objects.for_org(org).filter(action="auth.session_ended").exists()


def test_another_persons_session_is_404(org, owner):
    mine = _browser(owner, org, "laptop")
    stranger = MembershipFactory.create(org=org).user
    theirs = _browser(stranger, org, "theirs")
    their_id = next(
        r["id"] for r in theirs.get("/api/users/me/sessions").json()["data"] if r["current"]
    )
    assert mine.post(f"/account/sessions/{their_id}/end/").status_code == 404
    assert theirs.get("/account/").status_code == 200


def test_sign_out_other_devices_keeps_this_one(org, owner, sign_in):
    laptop = _browser(owner, org, "laptop")
    phone = _browser(owner, org, "phone")
    sign_in(Membership.objects.for_org(org).get(user=owner))
    assert laptop.post("/account/sessions/sign-out-others/").status_code == 302
    assert laptop.get("/account/").status_code == 200
    assert phone.get("/account/").status_code == 302
    assert len(_ids(laptop.get("/account/").content.decode())) == 1
    event = AuditEvent.objects.for_org(org).get(action="auth.logout_all")
    assert event.metadata["sessions_ended"] == 1
    assert event.metadata["families_revoked"] == 1
    assert event.metadata["kept_current"] is True
