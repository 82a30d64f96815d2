import time

import pytest
from django.core import mail
from rest_framework.test import APIClient

from apikeys import crypto
from apikeys.models import APIKey
from audit.models import AuditEvent
from tests.apikeys.conftest import with_key
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def verify(raw_key, token, **headers):
    return with_key(raw_key).post("/api/public/verify", {"token": token}, format="json", **headers)


def test_verify_a_members_token(org, make_key, as_member):
    _, raw = make_key(org)
    member = as_member(org, role="developer")
    body = verify(raw, member.pair.access_token).json()
    assert body == {
        "valid": True,
        "user": {
            "id": member.membership.user_id,
            "email": member.membership.user.email,
            "name": member.membership.user.name,
        },
        "membership": {"role": "developer", "status": "active"},
    }


def test_verify_another_orgs_token_is_invalid(org, other_org, make_key, as_member):
    _, raw = make_key(org)
    outsider = as_member(other_org)
    assert verify(raw, outsider.pair.access_token).json() == {
        "valid": False, "user": None, "membership": None,
    }  # fmt: skip


def test_verify_garbage_or_ended_token_is_invalid(org, make_key, as_member):
    _, raw = make_key(org)
    member = as_member(org)
    assert verify(raw, "not-a-token").json()["valid"] is False
    member.post("/api/auth/logout")
    assert verify(raw, member.pair.access_token).json()["valid"] is False


def test_x_org_slug_must_match_the_keys_org(org, other_org, make_key, as_member):
    _, raw = make_key(org)
    member = as_member(org)
    assert verify(raw, member.pair.access_token, HTTP_X_ORG_SLUG=org.slug).status_code == 200
    mismatch = verify(raw, member.pair.access_token, HTTP_X_ORG_SLUG=other_org.slug)
    assert (mismatch.status_code, mismatch.json()["code"]) == (403, "forbidden")


def test_public_endpoints_take_keys_not_jwts(org, as_member):
    member = as_member(org, role="admin")
    assert member.get("/api/public/org").status_code == 401


def test_public_org_and_user(org, other_org, make_key):
    _, raw = make_key(org)
    client = with_key(raw)
    assert client.get("/api/public/org").json()["slug"] == org.slug
    member = MembershipFactory.create(org=org, role="viewer")
    body = client.get(f"/api/public/users/{member.user_id}").json()
    assert (body["email"], body["membership"]["role"]) == (member.user.email, "viewer")
    outsider = MembershipFactory.create(org=other_org)
    assert client.get(f"/api/public/users/{outsider.user_id}").status_code == 404


def test_scopes_apply_to_public_endpoints(org, make_key):
    _, raw = make_key(org, scopes=["org:read"])
    assert with_key(raw).get("/api/public/org").status_code == 200
    assert (
        with_key(raw).post("/api/public/verify", {"token": "x"}, format="json").status_code == 403
    )


def test_public_endpoints_are_rate_limited_per_key_with_headers(org, make_key, settings):
    settings.PUBLIC_API_RATE = "3/d"  # a day-long window: no boundary falls inside the test
    _, raw = make_key(org)
    _, other = make_key(org)
    client = with_key(raw)
    first = client.get("/api/public/org")
    assert first["X-RateLimit-Limit"] == "3"
    assert first["X-RateLimit-Remaining"] == "2"
    now = time.time()
    assert now < int(first["X-RateLimit-Reset"]) <= now + 86400 + 1  # epoch seconds
    client.get("/api/public/org")
    client.get("/api/public/org")
    limited = client.get("/api/public/org")
    assert (limited.status_code, limited.json()["code"]) == (429, "rate_limited")
    assert limited["X-RateLimit-Remaining"] == "0"
    assert with_key(other).get("/api/public/org").status_code == 200  # per key


def test_leak_report_revokes_audits_and_emails_owners(
    org, make_key, django_capture_on_commit_callbacks
):
    owner = MembershipFactory.create(org=org, role="owner")
    key, raw = make_key(org)
    report = [
        {
            "token": raw,
            "type": "tenantry_api_key",
            "url": "https://github.com/x/y",
            "source": "content",
        }
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post("/api/public/leaked-keys", report, format="json")
    assert (response.status_code, response.json()) == (202, {"received": 1})
    assert with_key(raw).get("/api/users/me").status_code == 401
    event = AuditEvent.dangerously_unscoped.get(action="api_key.leak_reported")
    assert event.metadata["url"] == "https://github.com/x/y"
    assert raw not in str(event.metadata)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.user.email]
    assert raw not in mail.outbox[0].body
    key.refresh_from_db()
    assert key.revoked_reason == "leaked"


def test_leak_report_answers_the_same_whether_or_not_a_key_matched(org, make_key):
    _, raw = make_key(org)
    unknown = APIClient().post(
        "/api/public/leaked-keys", [{"token": crypto.generate().raw}], format="json"
    )
    noise = APIClient().post("/api/public/leaked-keys", [{"token": "hello"}], format="json")
    assert unknown.status_code == noise.status_code == 202
    assert unknown.json() == noise.json() == {"received": 1}
    assert with_key(raw).get("/api/users/me").status_code == 200
    assert not AuditEvent.dangerously_unscoped.filter(action="api_key.leak_reported").exists()


def test_leak_report_with_bad_body_is_422(org):
    response = APIClient().post("/api/public/leaked-keys", [{"url": "x"}], format="json")
    assert response.status_code == 422


def test_createapikey_prints_the_key_once(org, capsys):
    from django.core.management import call_command

    member = MembershipFactory.create(org=org, role="developer")
    call_command(
        "createapikey",
        "--org",
        org.slug,
        "--user",
        member.user.email,
        "--name",
        "cli",
        "--expires",
        "30d",
    )
    out, err = capsys.readouterr()
    raw = out.strip()
    assert crypto.parse(raw) is not None
    assert raw not in err
    assert with_key(raw).get("/api/users/me").json()["role"] == "developer"
    assert APIKey.objects.for_org(org).get().expires_at is not None


def test_createapikey_refuses_a_non_member(org, user):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="not an active member"):
        call_command("createapikey", "--org", org.slug, "--user", user.email, "--name", "cli")
    assert not APIKey.objects.for_org(org).exists()


def test_verify_refuses_tokens_of_an_org_with_jwt_switched_off(org, make_key, as_member):
    _, raw = make_key(org)
    member = as_member(org)
    org.jwt_enabled = False
    org.save()
    assert verify(raw, member.pair.access_token).json()["valid"] is False
