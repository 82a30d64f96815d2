"""The browser session: one cookie across subdomains, accepted by the API with CSRF, sliding."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import BrowserSession
from accounts.services import browser_session_open
from accounts.session_store import SEEN_KEY, SessionStore
from audit.actors import RequestContext
from audit.models import AuditEvent
from tests.config.test_deploy import PRODUCTION
from tests.factories import MembershipFactory, OrgFactory

pytestmark = pytest.mark.django_db

BASE = "tenantry.test"


@pytest.fixture(autouse=True)
def _deployment(settings):
    settings.BASE_DOMAIN = BASE
    settings.ALLOWED_HOSTS = [f".{BASE}"]
    settings.SESSION_COOKIE_DOMAIN = f".{BASE}"
    settings.CSRF_COOKIE_DOMAIN = f".{BASE}"
    settings.CSRF_TRUSTED_ORIGINS = [f"https://*.{BASE}"]


def _browser(user, org=None, *, enforce_csrf=False):
    key = browser_session_open(user=user, org_id=getattr(org, "pk", None), context=RequestContext())
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.cookies["tnt_session"] = key
    return client, key


def test_the_cookie_authenticates_the_api_on_api_host(org, owner):
    client, _ = _browser(owner, org)
    response = client.get("/api/users/me", HTTP_HOST=f"api.{BASE}")
    assert response.status_code == 200, response.content
    assert response.json()["email"] == owner.email


def test_the_org_subdomain_decides_the_org_when_the_person_is_a_member(org, owner):
    acme = OrgFactory.create(slug="acme")
    MembershipFactory.create(org=acme, user=owner, role="viewer")
    client, _ = _browser(owner, org)
    on_acme = client.get("/api/org", HTTP_HOST=f"acme.{BASE}").json()
    on_api = client.get("/api/org", HTTP_HOST=f"api.{BASE}").json()
    assert on_acme["slug"] == "acme"
    assert on_api["slug"] == org.slug


def test_a_subdomain_of_an_org_the_person_is_not_in_acts_in_the_sessions_org(org, owner):
    OrgFactory.create(slug="acme")
    client, _ = _browser(owner, org)
    body = client.get("/api/org", HTTP_HOST=f"acme.{BASE}").json()
    assert body["slug"] == org.slug


def test_a_cookie_post_without_the_csrf_token_is_refused(org, owner):
    client, _ = _browser(owner, org, enforce_csrf=True)
    response = client.post(
        "/api/auth/logout-all", HTTP_HOST=f"api.{BASE}", content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "CSRF" in response.json()["error"]


def test_a_cookie_post_with_the_csrf_token_from_another_subdomain_passes(org, owner):
    client, _ = _browser(owner, org, enforce_csrf=True)
    client.get("/api/users/me", HTTP_HOST=f"portal.{BASE}")  # any page that sets the cookie
    token = "a" * 32
    client.cookies["csrftoken"] = token
    response = client.post(
        "/api/auth/logout-all",
        HTTP_HOST=f"api.{BASE}",
        HTTP_X_CSRFTOKEN=token,
        HTTP_ORIGIN=f"https://portal.{BASE}",
        content_type="application/json",
        secure=True,
    )
    assert response.status_code == 204, response.content


def test_a_post_from_a_foreign_origin_is_refused_even_with_the_token(org, owner):
    client, _ = _browser(owner, org, enforce_csrf=True)
    token = "a" * 32
    client.cookies["csrftoken"] = token
    response = client.post(
        "/api/auth/logout-all",
        HTTP_HOST=f"api.{BASE}",
        HTTP_X_CSRFTOKEN=token,
        HTTP_ORIGIN=f"https://portal.{BASE}.evil.example",
        content_type="application/json",
        secure=True,
    )
    assert response.status_code == 403


def test_no_cors_header_opens_the_api_to_other_origins(org, owner):
    client, _ = _browser(owner, org)
    response = client.get(
        "/api/users/me", HTTP_HOST=f"api.{BASE}", HTTP_ORIGIN="https://evil.example"
    )
    assert "Access-Control-Allow-Origin" not in response


def test_a_person_without_an_org_has_no_api_credential(user):
    client, _ = _browser(user)
    response = client.get("/api/users/me", HTTP_HOST=f"api.{BASE}")
    assert response.status_code == 401


def test_the_session_row_names_its_person_and_device(org, owner):
    key = browser_session_open(
        user=owner, org_id=org.pk, context=RequestContext(ip="203.0.113.9", user_agent="Firefox")
    )
    row = BrowserSession.objects.get(session_key=key)
    assert (row.user_id, row.ip, row.user_agent) == (owner.pk, "203.0.113.9", "Firefox")
    assert row.created_at is not None
    assert (
        AuditEvent.objects.for_org(org)
        .filter(action="auth.session_started", actor_id=str(owner.pk))
        .exists()
    )


class _CountingSaves:
    def __init__(self, monkeypatch):
        self.calls = 0
        original = SessionStore.save

        def save(store, must_create=False):
            self.calls += 1
            return original(store, must_create=must_create)

        monkeypatch.setattr(SessionStore, "save", save)


def test_requests_within_the_touch_interval_write_nothing_to_the_store(
    org, owner, settings, monkeypatch
):
    settings.SESSION_TOUCH_SECONDS = 300
    client, key = _browser(owner, org)
    before = BrowserSession.objects.get(session_key=key)
    saves = _CountingSaves(monkeypatch)
    for _ in range(3):
        response = client.get("/api/users/me", HTTP_HOST=f"api.{BASE}")
        assert response.status_code == 200
        assert "tnt_session" not in response.cookies  # no cookie re-sent, nothing saved
    assert saves.calls == 0
    after = BrowserSession.objects.get(session_key=key)
    assert (after.expire_date, after.session_data) == (before.expire_date, before.session_data)


def test_a_request_after_the_interval_slides_the_expiry_once(org, owner, settings, monkeypatch):
    settings.SESSION_TOUCH_SECONDS = 300
    client, key = _browser(owner, org)
    store = SessionStore(session_key=key)
    store[SEEN_KEY] = store[SEEN_KEY] - 301  # the last write was over five minutes ago
    store.save()
    before = BrowserSession.objects.get(session_key=key).expire_date
    saves = _CountingSaves(monkeypatch)
    response = client.get("/api/users/me", HTTP_HOST=f"api.{BASE}")
    assert saves.calls == 1
    cookie = response.cookies["tnt_session"]
    assert cookie.value == key
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE
    assert cookie["domain"] == f".{BASE}"
    assert BrowserSession.objects.get(session_key=key).expire_date > before
    client.get("/api/users/me", HTTP_HOST=f"api.{BASE}")
    assert saves.calls == 1


def test_sessions_live_in_redis_with_the_database_as_the_durable_copy(org, owner):
    from django.core.cache import caches

    from accounts.session_store import CachedDatabaseStore

    key = browser_session_open(user=owner, org_id=org.pk, context=RequestContext())
    assert SessionStore is CachedDatabaseStore  # the suite runs with REDIS_URL set
    assert caches["default"].get(CachedDatabaseStore.cache_key_prefix + key) is not None


def test_production_cookie_settings():
    env = {**os.environ, **PRODUCTION, "BASE_DOMAIN": "example.com"}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_NAME, s.SESSION_COOKIE_AGE, s.SESSION_COOKIE_DOMAIN, "
        "s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, "
        "s.CSRF_COOKIE_DOMAIN, s.CSRF_TRUSTED_ORIGINS, s.SESSION_ENGINE)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, check=True,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
    )  # fmt: skip
    assert result.stdout.split() == [
        "tnt_session", str(7 * 24 * 3600), ".example.com", "True", "True", "Lax",
        ".example.com", "['https://*.example.com']", "accounts.session_store",
    ]  # fmt: skip


def test_me_with_a_session_cookie_has_a_query_budget(org, owner, max_data_queries):
    client, _ = _browser(owner, org)
    client.get("/api/users/me", HTTP_HOST=f"api.{BASE}")  # warm: the session is cached
    # The user (Django's session middleware) and the person's memberships with their orgs
    # (one statement, through tenantry_person_memberships). The org is named for the
    # request's transaction only before a statement that needs it (tenancy.rls): none here.
    with max_data_queries(2):
        assert client.get("/api/users/me", HTTP_HOST=f"api.{BASE}").status_code == 200


def test_a_stored_session_row_decodes_through_the_configured_engine():
    # Django's session manager and admin decode a row through the model's store class.
    assert BrowserSession.get_session_store_class() is SessionStore
    row = BrowserSession.objects.create(
        session_key="decodable" * 4,
        session_data=BrowserSession.objects.encode({"tnt_org_id": 7}),
        expire_date=timezone.now() + timedelta(days=1),
    )
    assert row.get_decoded() == {"tnt_org_id": 7}
