import jwt
import pytest
from django.core.cache import cache

from audit.models import AuditEvent
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def member(org):
    return MembershipFactory.create(
        org=org, role="developer", user=UserFactory.create(email="dev@acme.test")
    )


def login(api, **body):
    return api.post("/api/auth/login", body, format="json")


def test_login_returns_the_documented_pair(api, org, member):
    response = login(api, email="dev@acme.test", password=PASSWORD, org_slug=org.slug)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "expires_in", "user"}
    assert body["expires_in"] == 900
    assert body["user"] == {
        "id": member.user_id, "org_id": org.pk, "org_name": org.name, "email": "dev@acme.test",
    }  # fmt: skip
    assert AuditEvent.dangerously_unscoped.filter(org_id=org.pk, action="auth.login").count() == 1


def test_access_token_carries_the_documented_claims(api, org, member):
    body = login(api, email="DEV@acme.test", password=PASSWORD, org_slug=org.slug).json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert {"iss", "sub", "user_id", "org_id", "jti", "iat", "exp"} <= set(claims)
    assert claims["iss"] == "tenantry"
    assert claims["sub"] == str(member.user_id)
    assert (claims["user_id"], claims["org_id"]) == (member.user_id, org.pk)
    assert claims["exp"] - claims["iat"] == 900


def _failed(response):
    assert response.status_code == 401, response.content
    body = response.json()
    return body["code"], body["error"]


def test_every_wrong_credential_gets_the_same_401(api, org, other_org, member):
    inactive = UserFactory.create(email="gone@acme.test", is_active=False)
    MembershipFactory.create(org=org, user=inactive)
    MembershipFactory.create(org=other_org, user=UserFactory.create(email="outsider@acme.test"))
    answers = {
        _failed(login(api, email="nobody@acme.test", password=PASSWORD, org_slug=org.slug)),
        _failed(login(api, email="dev@acme.test", password="wrong password", org_slug=org.slug)),
        _failed(login(api, email="gone@acme.test", password=PASSWORD, org_slug=org.slug)),
        _failed(login(api, email="outsider@acme.test", password=PASSWORD, org_slug=org.slug)),
        _failed(login(api, email="dev@acme.test", password=PASSWORD, org_slug="no-such-org")),
    }
    assert answers == {("unauthorized", "Invalid credentials")}
    assert not AuditEvent.dangerously_unscoped.filter(action="auth.login").exists()


def test_suspended_membership_cannot_log_in(api, org, member):
    member.status = "suspended"
    member.save()
    assert _failed(login(api, email="dev@acme.test", password=PASSWORD, org_slug=org.slug))


def test_bad_fields_are_422_with_field_errors(api):
    response = login(api, email="not-an-email", password="", org_slug="has space")
    assert response.status_code == 422
    errors = response.json()["details"]["fieldErrors"]
    assert errors["email"] == ["Invalid email"]
    assert set(errors) == {"email", "password", "org_slug"}


def test_login_is_rate_limited_per_email(api, org, member, settings):
    settings.LOGIN_RATE = "3/d"  # a day-long window: no boundary falls inside the test
    for _ in range(3):
        login(api, email="dev@acme.test", password="wrong", org_slug=org.slug)
    response = login(api, email="dev@acme.test", password=PASSWORD, org_slug=org.slug)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0


def test_a_jwt_disabled_org_answers_right_and_wrong_passwords_alike(api, org, member, monkeypatch):
    """No login oracle: on an org that switched JWT sign-in off, the right password and a
    wrong one get the same status and body (byte for byte but the request id), and both
    cost one password hash and the same queries."""
    from django.contrib.auth.hashers import MD5PasswordHasher
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    org.jwt_enabled = False
    org.save()
    hashed = []
    verify = MD5PasswordHasher.verify

    def counting_verify(self, password, encoded):
        hashed.append(1)
        return verify(self, password, encoded)

    monkeypatch.setattr(MD5PasswordHasher, "verify", counting_verify)
    answers = []
    for password in (PASSWORD, "wrong-password"):
        hashed.clear()
        cache.clear()  # the same rate-limit state for both
        with CaptureQueriesContext(connection) as queries:
            response = login(api, email="dev@acme.test", password=password, org_slug=org.slug)
        answers.append((response, len(hashed), len(queries.captured_queries)))
    (right, right_hashes, right_queries), (wrong, wrong_hashes, wrong_queries) = answers
    assert right.status_code == wrong.status_code == 401
    assert right.json()["code"] == "unauthorized"
    assert right.content.replace(right["X-Request-ID"].encode(), b"") == wrong.content.replace(
        wrong["X-Request-ID"].encode(), b""
    )
    varying = {"X-Request-ID", "X-RateLimit-Reset", "RateLimit"}
    assert {k: v for k, v in right.headers.items() if k not in varying} == {
        k: v for k, v in wrong.headers.items() if k not in varying
    }
    assert right_hashes == wrong_hashes == 1
    assert right_queries == wrong_queries
    assert not AuditEvent.objects.for_org(org).filter(action="auth.login").exists()


def test_password_never_reaches_the_audit_log(api, org, member):
    login(api, email="dev@acme.test", password=PASSWORD, org_slug=org.slug)
    assert PASSWORD not in str(list(AuditEvent.dangerously_unscoped.values()))
