"""API requests without a session cookie skip the browser's middleware, and no API request
builds flash-message storage; pages keep all of it."""

import pytest
from django.conf import settings
from django.test import Client

from accounts.services import browser_session_open
from apikeys.services import api_key_create
from audit.actors import Actor, RequestContext
from tests.apikeys.conftest import with_key
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_a_key_authenticated_request_skips_sessions_auth_and_messages(org):
    creator = MembershipFactory.create(org=org, role="admin")
    _, raw = api_key_create(org=org, actor=Actor.system(), creator=creator, name="k")
    response = with_key(raw).get("/api/users/me")
    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "_messages")
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies  # no session or CSRF cookie is ever set on such an answer


def test_an_api_request_with_the_session_cookie_goes_through_them(org):
    membership = MembershipFactory.create(org=org, role="admin")
    key = browser_session_open(user=membership.user, org_id=org.pk, context=RequestContext())
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    response = client.get("/api/users/me")
    assert response.status_code == 200, response.content
    assert response.json()["credential"] == "session"
    assert response.wsgi_request.session.session_key == key
    assert not hasattr(response.wsgi_request, "_messages")  # the API reads no flash messages


def test_a_cookie_post_without_a_csrf_token_is_still_refused(org):
    membership = MembershipFactory.create(org=org, role="admin")
    key = browser_session_open(user=membership.user, org_id=org.pk, context=RequestContext())
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    response = client.post("/api/api-keys", {"name": "x"}, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


def test_portal_pages_keep_them(client):
    response = client.get("/login/")
    assert hasattr(response.wsgi_request, "session")
    assert hasattr(response.wsgi_request, "user")
    assert hasattr(response.wsgi_request, "_messages")
