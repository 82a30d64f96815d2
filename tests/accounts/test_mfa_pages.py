"""The second factor in the portal, through Django's test client: the sign-in's code step
and enrollment step, and the account page's setup (each write audited)."""

import re

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import BrowserSession, MfaChallenge
from audit.models import AuditEvent
from tests.factories import PASSWORD, MembershipFactory, UserFactory
from tests.mfa_helpers import code_from_secret, code_now, enroll, wrong_code

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()


@pytest.fixture
def member(org):
    return MembershipFactory.create(org=org, user=UserFactory.create(email="ada@example.test"))


def _password(client, next_url=""):
    return client.post(
        "/login/", {"email": "ada@example.test", "password": PASSWORD, "next": next_url}
    )


def _actions():
    return [e.action for e in AuditEvent.dangerously_unscoped.order_by("id")]


def _signed_in_user_id(client):
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    if cookie is None:
        return None
    row = BrowserSession.objects.filter(session_key=cookie.value).first()
    return row.user_id if row is not None else None


def test_the_password_step_opens_no_session_only_the_code_step(client, member):
    enroll(member.user)
    response = _password(client, next_url="/account/")
    assert response.status_code == 302
    assert response["Location"] == "/login/code/"
    assert _signed_in_user_id(client) is None  # half signed in: nobody
    assert client.get("/account/")["Location"].startswith("/login/?next=")
    assert client.get("/api/users/me").status_code == 401
    page = client.get("/login/code/")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "ada@example.test" in page.content.decode()

    done = client.post("/login/code/", {"code": code_now(member.user)})
    assert done.status_code == 302
    assert done["Location"] == "/account/"
    assert _signed_in_user_id(client) == member.user_id
    assert client.get("/account/").status_code == 200
    event = AuditEvent.dangerously_unscoped.get(action="auth.session_started")
    assert event.metadata["via"] == "password+totp"
    assert "auth.mfa_challenged" in _actions()


def test_a_wrong_code_is_refused_counted_and_the_sign_in_dies_at_the_limit(
    client, member, settings
):
    settings.MFA_TOKEN_ATTEMPTS = 2
    enroll(member.user)
    _password(client)
    wrong = client.post("/login/code/", {"code": wrong_code(member.user)})
    assert wrong.status_code == 400
    assert "Invalid code" in wrong.content.decode()
    assert _signed_in_user_id(client) is None
    last = client.post("/login/code/", {"code": wrong_code(member.user)})
    assert last.status_code == 302
    assert last["Location"] == "/login/"
    # The sign-in is gone: the right code no longer helps; start again.
    assert client.post("/login/code/", {"code": code_now(member.user)})["Location"] == "/login/"
    assert _signed_in_user_id(client) is None
    assert _actions().count("auth.mfa_failed") == 2


def test_the_code_step_is_rate_limited_per_person(client, member, settings):
    settings.MFA_RATE = "2/m"
    enroll(member.user)
    _password(client)
    client.post("/login/code/", {"code": wrong_code(member.user)})
    client.post("/login/code/", {"code": wrong_code(member.user)})
    limited = client.post("/login/code/", {"code": code_now(member.user)})
    assert limited.status_code == 429
    assert _signed_in_user_id(client) is None


def test_a_recovery_code_signs_in_once(member):
    codes = enroll(member.user)
    first = Client()
    _password(first)
    assert first.post("/login/code/", {"code": codes[0]}).status_code == 302
    assert _signed_in_user_id(first) == member.user_id
    assert "auth.mfa_recovery_code_used" in _actions()
    second = Client()
    _password(second)
    assert second.post("/login/code/", {"code": codes[0]}).status_code == 400
    assert _signed_in_user_id(second) is None


def test_no_code_step_without_a_password_first(client):
    response = client.get("/login/code/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.post("/login/enroll/", {"code": "123456"})["Location"] == "/login/"


def test_an_org_requirement_walks_a_member_through_enrollment(client, member, org):
    org.mfa_required = True
    org.save()
    response = _password(client, next_url="/account/")
    assert response["Location"] == "/login/enroll/"
    assert _signed_in_user_id(client) is None
    page = client.get("/login/enroll/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in body
    assert org.name in body
    assert "no-store" in page["Cache-Control"]
    found = re.search(r'id="mfa-secret">([A-Z2-7]+)<', body)
    assert found is not None
    secret = found.group(1)
    # A reload shows the same secret: the app the person already scanned stays right.
    assert secret in client.get("/login/enroll/").content.decode()

    wrong = client.post("/login/enroll/", {"code": wrong_code(member.user)})
    assert wrong.status_code == 400
    assert _signed_in_user_id(client) is None
    done = client.post("/login/enroll/", {"code": code_from_secret(secret)})
    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", done.content.decode())
    assert len(codes) == 10
    assert _signed_in_user_id(client) == member.user_id
    assert TOTPDevice.objects.get(user=member.user).confirmed
    assert (
        AuditEvent.dangerously_unscoped.get(action="auth.session_started").metadata["via"]
        == "password+totp"
    )
    assert {"auth.mfa_enrollment_started", "auth.mfa_enrolled"} <= set(_actions())
    # The next sign-in asks for the code.
    assert _password(Client())["Location"] == "/login/code/"


def test_an_invitation_accepted_with_a_password_still_asks_for_the_code(client, org):
    from audit.actors import Actor
    from orgs.services import invitation_create

    user = UserFactory.create(email="ada@example.test")
    enroll(user)
    _, token = invitation_create(
        org=org, actor=Actor.system(), by=None, email=user.email, role="member"
    )
    client.get(f"/invitations/{token}/")
    response = client.post("/invitations/accept/", {"password": PASSWORD})
    assert response["Location"] == "/login/code/"
    assert _signed_in_user_id(client) is None
    assert client.post("/login/code/", {"code": code_now(user)}).status_code == 302
    assert _signed_in_user_id(client) == user.pk


# --- The account page ------------------------------------------------------------------------


def test_the_account_page_sets_up_an_app_and_shows_recovery_codes_once(org, portal_member):
    client = portal_member(org)
    user = client.membership.user
    assert "Set up an authenticator app" in client.get("/account/").content.decode()
    started = client.post("/account/mfa/start/")
    assert started["Location"] == "/account/mfa/setup/"
    setup = client.get("/account/mfa/setup/")
    assert "<svg" in setup.content.decode()
    assert "no-store" in setup["Cache-Control"]
    assert client.post("/account/mfa/setup/", {"code": wrong_code(user)}).status_code == 422
    done = client.post("/account/mfa/setup/", {"code": code_now(user)})
    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    assert len(re.findall(r"<li><code>", done.content.decode())) == 10
    assert client.get("/account/mfa/setup/")["Location"] == "/account/"  # shown once
    assert "10 recovery codes left" in client.get("/account/").content.decode()
    assert _actions()[-3:] == [
        "auth.mfa_enrollment_started",
        "auth.mfa_failed",
        "auth.mfa_enrolled",
    ]


def test_the_account_page_makes_new_recovery_codes_and_turns_it_off(org, portal_member):
    client = portal_member(org)
    user = client.membership.user
    enroll(user)
    assert client.post("/account/mfa/recovery-codes/", {"code": "000000x"}).status_code == 422
    fresh = client.post("/account/mfa/recovery-codes/", {"code": code_now(user)})
    assert fresh.status_code == 200
    assert "no-store" in fresh["Cache-Control"]
    assert "auth.mfa_recovery_codes_regenerated" in _actions()
    refused = client.post("/account/mfa/disable/", {"password": "nope", "code": code_now(user)})
    assert refused.status_code == 422
    assert "Incorrect password" in refused.content.decode()
    off = client.post("/account/mfa/disable/", {"password": PASSWORD, "code": code_now(user)})
    assert off.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert _actions()[-1] == "auth.mfa_disabled"


def test_owners_require_a_second_factor_in_the_portal_and_admins_only_read_it(org, portal_member):
    admin = portal_member(org, role="admin")
    page = admin.get("/settings/security/").content.decode()
    assert 'id="mfa-required">Not required' in page
    assert admin.post("/settings/security/mfa/", {"mfa_required": "on"}).status_code == 403
    owner = portal_member(org, role="owner")
    assert 'name="mfa_required"' in owner.get("/settings/security/").content.decode()
    assert owner.post("/settings/security/mfa/", {"mfa_required": "on"}).status_code == 302
    org.refresh_from_db()
    assert org.mfa_required is True
    assert _actions()[-1] == "org.mfa_requirement_changed"


def test_no_challenge_token_or_code_reaches_the_audit_log(client, member):
    codes = enroll(member.user)
    _password(client)
    client.post("/login/code/", {"code": codes[0]})
    dump = str(list(AuditEvent.dangerously_unscoped.values("metadata")))
    assert not any(c in dump or c.replace("-", "") in dump for c in codes)
    assert "mfa_" not in dump.replace("auth.mfa_", "")
    assert MfaChallenge.objects.exists()
