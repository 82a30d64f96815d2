"""/login/, /logout/ and password reset, through Django's test client."""

import logging
import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from accounts.models import BrowserSession
from audit.models import AuditEvent
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    from django.core.cache import cache

    cache.clear()  # rate-limit counters


@pytest.fixture
def member(org):
    return MembershipFactory.create(org=org, user=UserFactory.create(email="ada@example.test"))


def _login(client, email, password, next_url=""):
    return client.post("/login/", {"email": email, "password": password, "next": next_url})


def test_the_page_offers_google_first_when_configured(client, settings):
    settings.SOCIAL_AUTH_GOOGLE_OIDC_KEY = "client-id"
    body = client.get("/login/").content.decode()
    assert body.index("Sign in with Google") < body.index('name="password"')
    settings.SOCIAL_AUTH_GOOGLE_OIDC_KEY = ""
    assert "Sign in with Google" not in client.get("/login/").content.decode()


def test_password_sign_in_rotates_the_session_and_follows_next(client, member):
    client.get("/login/")  # an anonymous session may already exist
    client.session["probe"] = 1
    before = client.cookies.get(settings.SESSION_COOKIE_NAME)
    response = _login(client, "ada@example.test", PASSWORD, next_url="/account/")
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert before is None or before.value != key
    row = BrowserSession.objects.get(session_key=key)
    assert row.user_id == member.user_id
    event = AuditEvent.dangerously_unscoped.get(action="auth.session_started")
    assert event.metadata["via"] == "password"
    assert event.org_id == member.org_id


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.test", "wrong"), ("nobody@example.test", PASSWORD), ("", "")],
)
def test_every_failure_gives_the_same_single_error(client, member, email, password):
    response = _login(client, email, password)
    assert response.status_code == 400
    assert "Invalid credentials" in response.content.decode()
    assert (
        settings.SESSION_COOKIE_NAME not in response.cookies
        or not client.cookies[settings.SESSION_COOKIE_NAME].value
    )


def test_an_inactive_user_gets_the_same_error(client, member):
    member.user.is_active = False
    member.user.save()
    response = _login(client, "ada@example.test", PASSWORD)
    assert response.status_code == 400
    assert "Invalid credentials" in response.content.decode()


@pytest.mark.parametrize(
    "next_url",
    ["//evil.example/", "https://evil.example/", "javascript:alert(1)", "/\\evil.example"],
)
def test_a_foreign_next_is_ignored(client, member, next_url):
    response = _login(client, "ada@example.test", PASSWORD, next_url=next_url)
    assert response["Location"] == "/"


def test_someone_with_no_org_is_sent_to_create_one(client, user):
    response = _login(client, user.email, PASSWORD, next_url="/account/")
    assert response["Location"] == "/orgs/new/"


def test_the_page_shares_the_api_logins_limit(client, member, settings, api):
    settings.LOGIN_RATE = "3/m"
    for _ in range(2):
        api.post(
            "/api/auth/login",
            {"email": "ada@example.test", "password": "x", "org_slug": member.org.slug},
            format="json",
        )
    assert _login(client, "ada@example.test", "x").status_code == 400
    response = _login(client, "ada@example.test", PASSWORD)
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()


def test_logout_is_post_only_and_ends_the_session(client, member):
    _login(client, "ada@example.test", PASSWORD)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302
    assert not BrowserSession.objects.filter(session_key=key).exists()
    assert AuditEvent.dangerously_unscoped.filter(action="auth.session_ended").exists()


def test_login_and_logout_need_the_csrf_token(member):
    client = Client(enforce_csrf_checks=True)
    assert _login(client, "ada@example.test", PASSWORD).status_code == 403
    client.get("/login/")
    token = client.cookies["csrftoken"].value
    signed_in = client.post(
        "/login/",
        {"email": "ada@example.test", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert signed_in.status_code == 302
    assert client.post("/logout/").status_code == 403
    rotated = client.cookies["csrftoken"].value  # Django rotates the CSRF secret at sign-in
    assert rotated != token
    assert client.post("/logout/", {"csrfmiddlewaretoken": rotated}).status_code == 302


def test_password_reset_end_to_end_never_logs_the_token(client, member, caplog):
    caplog.set_level(logging.DEBUG)
    other = Client()
    _login(other, "ada@example.test", PASSWORD)
    response = client.post("/password-reset/", {"email": "ada@example.test"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    found = re.search(r"http://\S+/reset/\S+/", str(mail.outbox[0].body))
    assert found is not None
    link = found.group(0)
    path = link.split("testserver", 1)[1]
    token = path.rstrip("/").rsplit("/", 1)[1]
    page = client.get(path)
    assert page.status_code == 302  # the token leaves the URL at once
    form = client.get(page["Location"])
    assert form["Referrer-Policy"] == "no-referrer"
    assert b"Set a new password" in form.content
    done = client.post(
        page["Location"],
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )
    assert done.status_code == 302
    member.user.refresh_from_db()
    assert member.user.check_password("a brand new passphrase")
    assert not BrowserSession.objects.filter(user=member.user).exists()  # the other one ended
    event = AuditEvent.dangerously_unscoped.get(action="user.password_reset")
    assert token not in str(event.metadata)
    assert all(token not in record.getMessage() for record in caplog.records)


def test_password_reset_for_an_unknown_email_looks_the_same(client, member):
    response = client.post("/password-reset/", {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent/"
    assert mail.outbox == []


def test_creating_an_org_needs_a_sign_in(client):
    response = client.get("/orgs/new/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/orgs/new/"


def test_a_signed_in_stranger_creates_an_org_and_acts_in_it(client, user):
    _login(client, user.email, PASSWORD)
    page = client.get("/orgs/new/")
    assert b"not a member of any organization" in page.content
    response = client.post("/orgs/new/", {"name": "Lab", "slug": "lab"})
    assert response.status_code == 302
    assert client.get("/api/org").json()["slug"] == "lab"
    assert AuditEvent.dangerously_unscoped.filter(
        action="org.created", actor_id=str(user.pk)
    ).exists()


@pytest.mark.parametrize(
    ("slug", "error"), [("Not A Slug!", "Use lowercase"), ("portal", "reserved")]
)
def test_a_bad_org_slug_is_explained_next_to_the_field(client, user, slug, error):
    _login(client, user.email, PASSWORD)
    response = client.post("/orgs/new/", {"name": "Lab", "slug": slug})
    assert response.status_code == 422
    assert error in response.content.decode()
    assert 'value="Lab"' in response.content.decode()
