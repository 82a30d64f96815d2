"""Ending the session a request came with, when its sliding touch is due: the answer is what
was done (204, or the portal's redirect), the cookie is deleted, and nothing is saved back."""

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client

from accounts.models import BrowserSession
from accounts.services import browser_session_open
from accounts.session_auth import session_public_id
from accounts.session_store import SEEN_KEY, CachedDatabaseStore, SessionStore
from audit.actors import RequestContext
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db


def _browser_due_a_touch(membership):
    """A signed-in browser whose last session write was longer ago than the touch interval."""
    key = browser_session_open(
        user=membership.user, org_id=membership.org_id, context=RequestContext()
    )
    store = SessionStore(session_key=key)
    store[SEEN_KEY] = store[SEEN_KEY] - settings.SESSION_TOUCH_SECONDS - 1
    store.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client, key


def _assert_gone(response, key):
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""  # the cookie deleted
    assert not BrowserSession.objects.filter(session_key=key).exists()
    assert caches["default"].get(CachedDatabaseStore.cache_key_prefix + key) is None
    assert response.wsgi_request.session.is_empty()


def test_logout_all_with_the_touch_due_is_204(org):
    client, key = _browser_due_a_touch(MembershipFactory.create(org=org))
    response = client.post("/api/auth/logout-all")
    assert response.status_code == 204, response.content
    _assert_gone(response, key)
    assert client.get("/api/users/me").status_code == 401


def test_a_password_change_with_the_touch_due_is_204(org):
    client, key = _browser_due_a_touch(MembershipFactory.create(org=org))
    response = client.post(
        "/api/users/me/password",
        {"current_password": PASSWORD, "new_password": "a brand new passphrase 42"},
        content_type="application/json",
    )
    assert response.status_code == 204, response.content
    _assert_gone(response, key)


def test_ending_this_session_through_the_api_with_the_touch_due_is_204(org):
    client, key = _browser_due_a_touch(MembershipFactory.create(org=org))
    response = client.delete(f"/api/users/me/sessions/{session_public_id(key)}")
    assert response.status_code == 204, response.content
    _assert_gone(response, key)


def test_the_portal_ending_this_browsers_session_with_the_touch_due_signs_it_out(org):
    client, key = _browser_due_a_touch(MembershipFactory.create(org=org))
    response = client.post(f"/account/sessions/{session_public_id(key)}/end/")
    assert response.status_code == 302, response.content
    assert response["Location"].startswith("/login/")
    _assert_gone(response, key)
    assert client.get("/account/")["Location"].startswith("/login/")


def test_ending_another_session_keeps_this_one(org):
    membership = MembershipFactory.create(org=org)
    client, key = _browser_due_a_touch(membership)
    _, other = _browser_due_a_touch(membership)
    response = client.delete(f"/api/users/me/sessions/{session_public_id(other)}")
    assert response.status_code == 204
    assert BrowserSession.objects.filter(session_key=key).exists()
    assert client.get("/api/users/me").status_code == 200


def test_a_password_reset_in_a_browser_signed_in_as_that_person_ends_its_session(org):
    import re

    from django.core import mail
    from django.core.cache import cache

    cache.clear()  # rate-limit counters
    membership = MembershipFactory.create(org=org)
    client, key = _browser_due_a_touch(membership)
    assert client.post("/password-reset/", {"email": membership.user.email}).status_code == 302
    found = re.search(r"http://testserver(/reset/\S+/)", str(mail.outbox[-1].body))
    assert found is not None
    form = client.get(found.group(1))["Location"]
    new = "a brand new passphrase 42"
    response = client.post(form, {"new_password1": new, "new_password2": new})
    assert response.status_code == 302, response.content
    assert response["Location"] == "/reset/done/"
    _assert_gone(response, key)
