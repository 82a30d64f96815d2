"""The second factor over the API: enrollment under /api/users/me/mfa, the login's
``401 mfa_required`` and ``POST /api/auth/mfa``, limits, recovery codes, the org rule."""

import json

import pytest
from django.core.cache import cache
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import MfaChallenge, RecoveryCode
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


def _login(org, email="ada@example.test", password=PASSWORD):
    return APIClient().post(
        "/api/auth/login",
        {"email": email, "password": password, "org_slug": org.slug},
        format="json",
    )


def _mfa(token, code):
    return APIClient().post("/api/auth/mfa", {"mfa_token": token, "code": code}, format="json")


def _events(action):
    return list(AuditEvent.dangerously_unscoped.filter(action=action).order_by("id"))


def test_enrollment_start_confirm_turns_the_second_factor_on(as_member, org):
    client = as_member(org)
    user = client.membership.user
    assert client.get("/api/users/me/mfa").json()["enabled"] is False

    started = client.post("/api/users/me/mfa/totp")
    assert started.status_code == 201
    body = started.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/Tenantry%3A")
    assert "issuer=Tenantry" in body["otpauth_uri"]
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg")
    assert "<path" in body["qr_svg"]
    assert client.get("/api/users/me/mfa").json()["enabled"] is False  # not until confirmed

    confirmed = client.post(
        "/api/users/me/mfa/totp/confirm", {"code": code_from_secret(body["secret"])}, format="json"
    )
    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    status = client.get("/api/users/me/mfa").json()
    assert status["enabled"] is True
    assert status["recovery_codes_remaining"] == 10
    # Stored hashed: no raw code (nor the code without its dash) is in the table.
    stored = json.dumps(list(RecoveryCode.objects.filter(user=user).values()), default=str)
    assert not any(c in stored or c.replace("-", "") in stored for c in codes)
    assert [e.action for e in AuditEvent.dangerously_unscoped.order_by("id")][-2:] == [
        "auth.mfa_enrollment_started",
        "auth.mfa_enrolled",
    ]
    # A second start while it is on is a conflict, not a silent replacement.
    assert client.post("/api/users/me/mfa/totp").status_code == 409


def test_a_wrong_first_code_does_not_turn_it_on_and_is_audited(as_member, org):
    client = as_member(org)
    client.post("/api/users/me/mfa/totp")
    response = client.post(
        "/api/users/me/mfa/totp/confirm",
        {"code": wrong_code(client.membership.user)},
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["details"]["fieldErrors"] == {"code": ["Invalid code"]}
    assert not TOTPDevice.objects.filter(user=client.membership.user, confirmed=True).exists()
    [failed] = _events("auth.mfa_failed")
    assert failed.metadata == {"during": "enrollment"}


def test_password_login_with_a_second_factor_asks_for_the_code(member, org):
    enroll(member.user)
    response = _login(org)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "mfa_required"
    token = body["details"]["mfa_token"]
    assert token.startswith("mfa_")
    assert set(body) == {"error", "code", "details", "request_id"}
    # Stored hashed: the raw token is nowhere in its row.
    assert not MfaChallenge.objects.filter(token_hash=token).exists()

    done = _mfa(token, code_now(member.user))
    assert done.status_code == 200
    pair = done.json()
    assert pair["user"]["email"] == "ada@example.test"
    assert pair["expires_in"] == 900
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    assert me.get("/api/users/me").status_code == 200
    [login] = _events("auth.login")
    assert login.metadata["via"] == "password+totp"
    # Single-use: the same token (with a fresh code) is refused.
    again = _mfa(token, code_now(member.user))
    assert again.status_code == 401
    assert again.json()["code"] == "unauthorized"


def test_a_wrong_password_is_the_usual_401_whatever_the_second_factor(member, org):
    enroll(member.user)
    response = _login(org, password="wrong")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.json()["details"] is None
    assert not MfaChallenge.objects.exists()


def test_an_app_code_is_accepted_once(member, org):
    enroll(member.user)
    code = code_now(member.user)
    assert _mfa(_login(org).json()["details"]["mfa_token"], code).status_code == 200
    replay = _mfa(_login(org).json()["details"]["mfa_token"], code)
    assert replay.status_code == 422


def test_wrong_codes_count_toward_the_tokens_limit(member, org, settings):
    settings.MFA_TOKEN_ATTEMPTS = 3
    enroll(member.user)
    token = _login(org).json()["details"]["mfa_token"]
    for _ in range(3):
        response = _mfa(token, wrong_code(member.user))
        assert response.status_code == 422
        assert response.json()["details"]["fieldErrors"]["code"] == ["Invalid code"]
    # Spent by wrong codes: even the right code no longer finishes this sign-in.
    dead = _mfa(token, code_now(member.user))
    assert dead.status_code == 401
    assert MfaChallenge.objects.get().failures == 3
    failures = _events("auth.mfa_failed")
    assert len(failures) == 3
    assert all(e.metadata == {"during": "sign_in", "channel": "api"} for e in failures)


def test_wrong_codes_count_toward_the_persons_limit(member, org, settings):
    settings.MFA_RATE = "3/m"
    enroll(member.user)
    for _ in range(3):  # each on a fresh token: the per-token limit is not what stops them
        token = _login(org).json()["details"]["mfa_token"]
        assert _mfa(token, wrong_code(member.user)).status_code == 422
    token = _login(org).json()["details"]["mfa_token"]
    limited = _mfa(token, code_now(member.user))
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert "Retry-After" in limited
    assert 'mfa-user";q=3' in limited["RateLimit-Policy"]
    assert not _events("auth.login")


def test_a_recovery_code_works_once(member, org):
    codes = enroll(member.user)
    token = _login(org).json()["details"]["mfa_token"]
    response = _mfa(token, codes[0].upper().replace("-", " "))  # as a person might type it
    assert response.status_code == 200
    [used] = _events("auth.mfa_recovery_code_used")
    assert used.metadata == {"channel": "api", "remaining": 9}
    assert _events("auth.login")[0].metadata["via"] == "password+recovery_code"
    again = _mfa(_login(org).json()["details"]["mfa_token"], codes[0])
    assert again.status_code == 422
    assert _mfa(_login(org).json()["details"]["mfa_token"], codes[1]).status_code == 200


def test_disabling_needs_the_password_and_a_code(member, org, sign_in):
    enroll(member.user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {sign_in(member).access_token}")
    code = code_now(member.user)
    wrong_password = client.post(
        "/api/users/me/mfa/disable", {"password": "nope", "code": code}, format="json"
    )
    assert wrong_password.status_code == 422
    assert wrong_password.json()["details"]["fieldErrors"] == {"password": ["Incorrect password"]}
    no_code = client.post(
        "/api/users/me/mfa/disable",
        {"password": PASSWORD, "code": wrong_code(member.user)},
        format="json",
    )
    assert no_code.status_code == 422
    assert TOTPDevice.objects.filter(user=member.user).exists()
    done = client.post(
        "/api/users/me/mfa/disable", {"password": PASSWORD, "code": code}, format="json"
    )
    assert done.status_code == 204
    assert not TOTPDevice.objects.filter(user=member.user).exists()
    assert not RecoveryCode.objects.filter(user=member.user).exists()
    [event] = _events("auth.mfa_disabled")
    assert event.metadata["method"] == "totp"
    assert _login(org).status_code == 200  # the password alone signs in again


def test_new_recovery_codes_replace_the_old(member, org, sign_in):
    old = enroll(member.user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {sign_in(member).access_token}")
    refused = client.post(
        "/api/users/me/mfa/recovery-codes", {"code": old[0]}, format="json"
    )  # a recovery code does not mint new ones
    assert refused.status_code == 422
    response = client.post(
        "/api/users/me/mfa/recovery-codes", {"code": code_now(member.user)}, format="json"
    )
    assert response.status_code == 200
    new = response.json()["recovery_codes"]
    assert not set(new) & set(old)
    token = _login(org).json()["details"]["mfa_token"]
    assert _mfa(token, old[1]).status_code == 422
    assert _mfa(token, new[0]).status_code == 200


def test_api_keys_cannot_touch_a_persons_second_factor(org, as_member):
    from apikeys.services import api_key_create
    from audit.actors import Actor

    owner = as_member(org, role="owner")
    _, raw = api_key_create(org=org, actor=Actor.system(), creator=owner.membership, name="k")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    assert client.get("/api/users/me/mfa").status_code == 403
    assert client.post("/api/users/me/mfa/totp").status_code == 403


def test_an_expired_mfa_token_is_refused(member, org, settings):
    enroll(member.user)
    token = _login(org).json()["details"]["mfa_token"]
    from datetime import timedelta

    from django.utils import timezone

    MfaChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _mfa(token, code_now(member.user)).status_code == 401


def test_a_portal_challenge_cannot_finish_an_api_login(member, org):
    from accounts import mfa
    from audit.actors import RequestContext

    enroll(member.user)
    raw = mfa.challenge_open(
        user=member.user, channel="portal", login_org=None, context=RequestContext()
    )
    assert _mfa(raw, code_now(member.user)).status_code == 401


# --- The org's requirement ---------------------------------------------------------------


def test_only_owners_require_a_second_factor_and_admins_read_it(org, as_member):
    admin = as_member(org, role="admin")
    refused = admin.patch("/api/org/security", {"mfa_required": True}, format="json")
    assert refused.status_code == 403
    assert admin.get("/api/org/security").json()["mfa_required"] is False
    owner = as_member(org, role="owner")
    response = owner.patch("/api/org/security", {"mfa_required": True}, format="json")
    assert response.status_code == 200
    assert response.json()["mfa_required"] is True
    [event] = _events("org.mfa_requirement_changed")
    assert event.metadata == {"before": {"mfa_required": False}, "after": {"mfa_required": True}}
    assert admin.get("/api/org/security").json()["mfa_required"] is True
    assert admin.get("/api/org").json()["mfa_required"] is True
    # PATCH /api/org does not take it: security settings have their own route.
    assert owner.patch("/api/org", {"mfa_required": False}, format="json").status_code == 200
    org.refresh_from_db()
    assert org.mfa_required is True


def test_an_api_key_needs_security_write_among_its_scopes(org, as_member):
    from apikeys.services import api_key_create
    from audit.actors import Actor

    owner = as_member(org, role="owner")
    _, raw = api_key_create(
        org=org, actor=Actor.system(), creator=owner.membership, name="k",
        scopes=["security:read"],
    )  # fmt: skip
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    response = client.patch("/api/org/security", {"mfa_required": True}, format="json")
    assert response.status_code == 403
    org.refresh_from_db()
    assert org.mfa_required is False


def test_a_required_second_factor_without_one_is_403_after_a_right_password_only(member, org):
    org.mfa_required = True
    org.save()
    wrong = _login(org, password="wrong")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "unauthorized"
    right = _login(org)
    assert right.status_code == 403
    assert right.json()["code"] == "mfa_enrollment_required"
    assert not _events("auth.login")
    enroll(member.user)
    token = _login(org).json()["details"]["mfa_token"]
    assert _mfa(token, code_now(member.user)).status_code == 200


def test_the_requirement_of_one_org_does_not_bind_the_api_login_of_another(member, org, other_org):
    other_org.mfa_required = True
    other_org.save()
    MembershipFactory.create(org=other_org, user=member.user)
    assert _login(org).status_code == 200
    assert _login(other_org).json()["code"] == "mfa_enrollment_required"
