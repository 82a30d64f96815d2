"""The session cookie as an API credential (accounts.session_auth): one query for the person
and the membership they act in, and every check Django's own ``get_user`` makes."""

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.test import Client

from accounts.services import browser_session_open
from accounts.session_store import SessionStore
from audit.actors import RequestContext
from orgs.models import Membership
from tests.factories import MembershipFactory, OrgFactory

pytestmark = pytest.mark.django_db


class CookieClient(Client):
    session_key: str


def cookie_client(membership, org_id=None):
    key = browser_session_open(
        user=membership.user, org_id=org_id or membership.org_id, context=RequestContext()
    )
    client = CookieClient()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    client.session_key = key
    return client


def test_me_with_the_session_cookie_makes_one_query(org, max_data_queries):
    client = cookie_client(MembershipFactory.create(org=org, role="admin"))
    client.get("/api/users/me")  # the session is now in the cache, as after any request
    with max_data_queries(1):
        response = client.get("/api/users/me")
    assert response.status_code == 200
    assert response.json()["credential"] == "session"
    request = response.wsgi_request
    assert request.user.pk == response.json()["id"]  # Django's request.user, from that query


def test_the_org_is_the_hosts_then_the_sessions_then_the_oldest(org):
    person = MembershipFactory.create(org=org).user
    second = MembershipFactory.create(org=OrgFactory.create(), user=person)
    third = MembershipFactory.create(org=OrgFactory.create(), user=person)
    client = cookie_client(second, org_id=second.org_id)
    assert client.get("/api/users/me").json()["org"]["id"] == second.org_id
    host = f"{third.org.slug}.{settings.BASE_DOMAIN}"
    assert client.get("/api/users/me", HTTP_HOST=host).json()["org"]["id"] == third.org_id
    second.status = Membership.Status.SUSPENDED
    second.save()
    assert client.get("/api/users/me").json()["org"]["id"] == org.pk  # the oldest left


def test_a_removed_member_or_deactivated_person_fails_on_the_next_request(org):
    membership = MembershipFactory.create(org=org)
    client = cookie_client(membership)
    assert client.get("/api/users/me").status_code == 200
    membership.delete()
    assert client.get("/api/users/me").status_code == 401
    other = MembershipFactory.create(org=org)
    client = cookie_client(other)
    assert client.get("/api/users/me").status_code == 200
    other.user.is_active = False
    other.user.save()
    assert client.get("/api/users/me").status_code == 401


def test_a_changed_password_ends_the_session_as_django_would(org):
    membership = MembershipFactory.create(org=org)
    client = cookie_client(membership)
    assert client.get("/api/users/me").status_code == 200
    membership.user.set_password("another password entirely")
    membership.user.save()  # the session's hash no longer matches: Django flushes it
    assert client.get("/api/users/me").status_code == 401
    assert not SessionStore().exists(client.session_key)


def test_a_session_of_an_unknown_backend_is_not_a_credential(org):
    client = cookie_client(MembershipFactory.create(org=org))
    store = SessionStore(session_key=client.session_key)
    store[BACKEND_SESSION_KEY] = "somewhere.else.Backend"
    store.save()
    assert client.get("/api/users/me").status_code == 401
