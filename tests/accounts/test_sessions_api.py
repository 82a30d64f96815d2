"""GET /api/users/me/sessions and DELETE /api/users/me/sessions/{id}."""

import pytest
from django.test import Client

from accounts.services import browser_session_open
from audit.actors import Actor, RequestContext
from audit.models import AuditEvent
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    from django.core.cache import cache

    cache.clear()


def _browser(user, org, ua="Firefox"):
    key = browser_session_open(
        user=user, org_id=org.pk, context=RequestContext(ip="198.51.100.4", user_agent=ua)
    )
    client = Client()
    client.cookies["tnt_session"] = key
    return client


def test_the_list_shows_browser_sessions_and_api_sign_ins_and_marks_the_current(org, as_member):
    jwt = as_member(org)
    user = jwt.membership.user
    laptop = _browser(user, org, ua="Firefox on a laptop")
    _browser(user, org, ua="Safari on a phone")
    body = jwt.get("/api/users/me/sessions").json()
    assert body["pagination"]["total_items"] == 3
    kinds = sorted(row["kind"] for row in body["data"])
    assert kinds == ["api", "browser", "browser"]
    current = [row for row in body["data"] if row["current"]]
    assert [r["kind"] for r in current] == ["api"]
    assert {r["user_agent"] for r in body["data"] if r["kind"] == "browser"} == {
        "Firefox on a laptop",
        "Safari on a phone",
    }
    from_laptop = laptop.get("/api/users/me/sessions").json()["data"]
    (mine,) = [row for row in from_laptop if row["current"]]
    assert (mine["kind"], mine["user_agent"], mine["ip"]) == (
        "browser",
        "Firefox on a laptop",
        "198.51.100.4",
    )
    assert mine["id"].startswith("bs_")
    assert all("session_key" not in row for row in from_laptop)


def test_ending_a_browser_session_signs_that_browser_out(org, as_member):
    jwt = as_member(org)
    phone = _browser(jwt.membership.user, org, ua="phone")
    assert phone.get("/api/users/me").status_code == 200
    (row,) = [r for r in jwt.get("/api/users/me/sessions").json()["data"] if r["kind"] == "browser"]
    assert jwt.delete(f"/api/users/me/sessions/{row['id']}").status_code == 204
    assert phone.get("/api/users/me").status_code == 401
    event = AuditEvent.objects.for_org(org).get(action="auth.session_ended")
    assert event.metadata == {"session_id": row["id"], "reason": "ended_by_user"}
    assert jwt.delete(f"/api/users/me/sessions/{row['id']}").status_code == 404


def test_ending_an_api_sign_in_stops_its_tokens(org, as_member, sign_in):
    jwt = as_member(org)
    other = sign_in(jwt.membership)
    from rest_framework.test import APIClient

    second = APIClient()
    second.credentials(HTTP_AUTHORIZATION=f"Bearer {other.access_token}")
    rows = jwt.get("/api/users/me/sessions").json()["data"]
    (theirs,) = [r for r in rows if r["kind"] == "api" and not r["current"]]
    assert jwt.delete(f"/api/users/me/sessions/{theirs['id']}").status_code == 204
    assert second.get("/api/users/me").status_code == 401
    assert jwt.get("/api/users/me").status_code == 200


def test_another_persons_session_is_404_and_stays(org, as_member):
    me = as_member(org)
    stranger = MembershipFactory.create(org=org).user
    theirs = _browser(stranger, org)
    rows = theirs.get("/api/users/me/sessions").json()["data"]
    (row,) = [r for r in rows if r["current"]]
    response = me.delete(f"/api/users/me/sessions/{row['id']}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert theirs.get("/api/users/me").status_code == 200
    for junk in ("bs_", "bs_zz", "tf_x", "tf_999999", "nonsense", "bs_" + "0" * 24):
        assert me.delete(f"/api/users/me/sessions/{junk}").status_code == 404


def test_an_api_key_cannot_list_or_end_sessions(org, as_member):
    from apikeys.services import api_key_create

    owner = as_member(org, role="owner")
    _, raw = api_key_create(org=org, actor=Actor.system(), creator=owner.membership, name="k")
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    assert client.get("/api/users/me/sessions").status_code == 403


def test_sign_out_everywhere_ends_every_session_and_api_sign_in(org, as_member, sign_in):
    jwt = as_member(org)
    user = jwt.membership.user
    browsers = [_browser(user, org), _browser(user, org)]
    sign_in(jwt.membership)
    assert jwt.post("/api/auth/logout-all").status_code == 204
    assert all(b.get("/api/users/me").status_code == 401 for b in browsers)
    assert jwt.get("/api/users/me").status_code == 401
    event = AuditEvent.objects.for_org(org).get(action="auth.logout_all")
    assert (event.metadata["sessions_ended"], event.metadata["families_revoked"]) == (2, 2)
