import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.tokens import AccessToken, issue_access_token
from audit.models import AuditEvent
from orgs.roles import actions_for
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


def bearer(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_me_shows_user_org_role_and_actions(org, as_member):
    client = as_member(org, role="developer", name="Dee Veloper")
    body = client.get("/api/users/me").json()
    assert body == {
        "id": client.membership.user_id,
        "email": client.membership.user.email,
        "name": "Dee Veloper",
        "org": {"id": org.pk, "slug": org.slug, "name": org.name},
        "role": "developer",
        "actions": sorted(actions_for("developer")),
        "credential": "jwt",
    }


def test_me_with_a_jwt_makes_one_query(org, as_member, max_data_queries):
    client = as_member(org)
    # One statement (plus the request's transaction: BEGIN/COMMIT, not counted).
    with max_data_queries(1):
        assert client.get("/api/users/me").status_code == 200


def test_expired_token_is_401_expired(org, as_member):
    membership = as_member(org).membership
    token = AccessToken()
    token.set_exp(lifetime=-timedelta(seconds=1))
    token.payload.update({"user_id": membership.user_id, "org_id": org.pk, "sid": 1})
    response = bearer(str(token)).get("/api/users/me")
    assert (response.status_code, response.json()["code"]) == (401, "expired")


def test_tampered_token_is_401_unauthorized(org, as_member):
    token = as_member(org).pair.access_token
    header, payload, signature = token.split(".")
    # Flip the first signature character: the last ones carry padding bits, and replacing
    # them with "AA" can leave the signature unchanged (about once in a thousand tokens).
    flipped = "B" if signature[0] == "A" else "A"
    forged = f"{header}.{payload}.{flipped}{signature[1:]}"
    response = bearer(forged).get("/api/users/me")
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")


def test_token_signed_with_another_key_is_refused(org, as_member, settings):
    import jwt

    membership = as_member(org).membership
    forged = jwt.encode(
        {"user_id": membership.user_id, "org_id": org.pk, "sid": 1, "token_type": "access",
         "iss": "tenantry", "exp": 9999999999, "jti": "x"},
        "not-our-key-but-long-enough-for-hs256-use", algorithm="HS256",
    )  # fmt: skip
    assert bearer(forged).get("/api/users/me").status_code == 401


def test_org_comes_from_the_token_not_the_request(org, other_org, as_member):
    client = as_member(org, role="admin")
    body = client.get("/api/org", HTTP_X_ORG_SLUG=other_org.slug).json()
    assert body["id"] == org.pk


def test_token_for_an_org_the_user_left_is_refused(org, other_org, as_member):
    membership = as_member(org).membership
    token = issue_access_token(user_id=membership.user_id, org_id=other_org.pk, family_id=1)
    assert bearer(token).get("/api/users/me").status_code == 401


def test_lowering_a_role_takes_effect_on_the_next_request(org, as_member):
    admin = as_member(org, role="admin")
    assert admin.get("/api/members").status_code == 200
    assert "member:write" in admin.get("/api/users/me").json()["actions"]
    admin.membership.role = "viewer"
    admin.membership.save()
    assert admin.get("/api/members").status_code == 403
    assert "member:write" not in admin.get("/api/users/me").json()["actions"]


def test_removed_member_loses_access_on_the_next_request(org, as_member):
    client = as_member(org)
    assert client.get("/api/users/me").status_code == 200
    client.membership.delete()
    assert client.get("/api/users/me").status_code == 401


def test_deactivated_user_loses_access(org, as_member):
    client = as_member(org)
    client.membership.user.is_active = False
    client.membership.user.save()
    assert client.get("/api/users/me").status_code == 401


def test_switching_jwt_off_refuses_jwt_requests_with_jwt_disabled(org, as_member):
    client = as_member(org, role="owner")
    assert client.patch("/api/org", {"jwt_enabled": False}, format="json").status_code == 200
    response = client.get("/api/users/me")
    assert (response.status_code, response.json()["code"]) == (403, "jwt_disabled")


def test_logout_ends_the_access_and_refresh_token_of_that_sign_in(org, as_member, sign_in):
    client = as_member(org)
    other_sign_in = sign_in(client.membership)
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/users/me").status_code == 401
    refresh = APIClient().post(
        "/api/auth/refresh", {"refresh_token": client.pair.refresh_token}, format="json"
    )
    assert refresh.status_code == 401
    assert bearer(other_sign_in.access_token).get("/api/users/me").status_code == 200
    assert AuditEvent.dangerously_unscoped.filter(action="auth.logout").count() == 1


def test_logout_all_ends_every_sign_in_in_every_org(org, other_org, as_member, sign_in):
    client = as_member(org)
    elsewhere = MembershipFactory.create(org=other_org, user=client.membership.user)
    other = sign_in(elsewhere)
    assert client.post("/api/auth/logout-all").status_code == 204
    assert client.get("/api/users/me").status_code == 401
    assert bearer(other.access_token).get("/api/users/me").status_code == 401
    event = AuditEvent.dangerously_unscoped.get(action="auth.logout_all")
    assert event.metadata["families_revoked"] == 2


def test_password_change_ends_every_sign_in(org, as_member, sign_in):
    client = as_member(org)
    other = sign_in(client.membership)
    response = client.post(
        "/api/users/me/password",
        {"current_password": PASSWORD, "new_password": "an-entirely-new-passphrase"},
        format="json",
    )
    assert response.status_code == 204
    assert client.get("/api/users/me").status_code == 401
    assert bearer(other.access_token).get("/api/users/me").status_code == 401
    login = APIClient().post(
        "/api/auth/login",
        {"email": client.membership.user.email, "password": "an-entirely-new-passphrase",
         "org_slug": org.slug},
        format="json",
    )  # fmt: skip
    assert login.status_code == 200
    audit = str(list(AuditEvent.dangerously_unscoped.values()))
    assert "an-entirely-new-passphrase" not in audit
    assert PASSWORD not in audit


def test_password_change_with_wrong_current_password_is_422(org, as_member):
    client = as_member(org)
    response = client.post(
        "/api/users/me/password",
        {"current_password": "nope", "new_password": "an-entirely-new-passphrase"},
        format="json",
    )
    assert response.status_code == 422
    assert "current_password" in response.json()["details"]["fieldErrors"]
    assert client.get("/api/users/me").status_code == 200


def test_password_change_attempts_are_rate_limited(org, as_member, settings):
    settings.LOGIN_RATE = "3/d"  # a day-long window: no boundary falls inside the test
    client = as_member(org)
    body = {"current_password": "guess", "new_password": "an-entirely-new-passphrase"}
    statuses = [
        client.post("/api/users/me/password", body, format="json").status_code for _ in range(4)
    ]
    assert statuses == [422, 422, 422, 429]


def test_a_remembered_token_is_still_refused_once_it_expires(org, as_member, monkeypatch):
    """A verified token is remembered (accounts.tokens._verified); its expiry is not."""
    from accounts import tokens

    client = as_member(org)
    assert client.get("/api/users/me").status_code == 200
    assert client.pair.access_token in tokens._verified
    later = time.time() + tokens.access_token_lifetime_seconds() + 1
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    response = client.get("/api/users/me")
    assert (response.status_code, response.json()["code"]) == (401, "expired")


def test_a_remembered_token_is_refused_once_its_key_is_dropped(org, as_member, monkeypatch):
    from accounts import signing_keys, tokens

    client = as_member(org)
    assert client.get("/api/users/me").status_code == 200
    assert client.pair.access_token in tokens._verified
    # Another keyring without the token's key, with no settings signal to clear anything.
    other = signing_keys._parse((("j9", signing_keys.new_seed()),), "j9")
    monkeypatch.setattr(tokens, "keyring", lambda: other)
    assert client.get("/api/users/me").status_code == 401


def test_a_forged_token_is_never_remembered(org, as_member):
    from accounts import tokens

    token = as_member(org).pair.access_token
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    assert bearer(forged).get("/api/users/me").status_code == 401
    assert forged not in tokens._verified


@pytest.mark.parametrize(
    "meta",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer abc.def.ghi"},
        {"HTTP_AUTHORIZATION": b"Bearer raw-bytes"},
        {"HTTP_AUTHORIZATION": "tnt_live_x caf\u00e9"},
        {"HTTP_AUTHORIZATION": ""},
    ],
)
def test_the_authorization_header_is_read_as_drf_reads_it(meta):
    """Read from META (DRF's builds request.headers, every header, for it): the same bytes."""
    from django.test import RequestFactory
    from rest_framework.authentication import get_authorization_header
    from rest_framework.request import Request

    from accounts.authentication import authorization_header

    django_request = RequestFactory().get("/api/users/me")
    django_request.META.update(meta)
    request = Request(django_request)
    assert authorization_header(request) == get_authorization_header(request)
    assert authorization_header(django_request) == get_authorization_header(request)
