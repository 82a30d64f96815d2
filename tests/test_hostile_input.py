"""Odd input from authenticated (and anonymous) clients: each a 4xx in the error shape, never
a 500, and never a silently coerced value. Each test reproduces a defect a review found."""

import base64
import json
import time

import pytest
from django.core import mail
from django.core.cache import cache
from rest_framework.test import APIClient

from apikeys import serializers as apikey_serializers
from apikeys.models import APIKey
from apikeys.services import api_key_create
from audit.actors import Actor
from orgs.models import Organization
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def owner_client(org, as_member):
    return as_member(org, role="owner")


def assert_422(response, field=None):
    assert response.status_code == 422, response.content[:500]
    body = response.json()
    assert body["code"] == "validation_error"
    if field is not None:
        assert field in body["details"]["fieldErrors"], body
    return body


def _cursor(occurred_at, pk=1):
    raw = json.dumps([occurred_at, pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59",
        "2026-01-01T00:00:00+99:00",
        "2026-01-01T00:00:00+00:00",  # fine, with a pk past bigint below
    ],
)
def test_audit_cursor_with_extreme_offsets_is_422_or_a_page(owner_client, occurred_at):
    response = owner_client.get(f"/api/audit-events?cursor={_cursor(occurred_at, 2**70)}")
    assert response.status_code in (200, 422), response.content[:300]
    if response.status_code == 422:
        assert_422(response, "cursor")


def test_audit_cursor_year_1_with_an_east_offset_is_422(owner_client):
    response = owner_client.get(f"/api/audit-events?cursor={_cursor('0001-01-01T00:00:00+23:59')}")
    assert_422(response, "cursor")


@pytest.mark.parametrize("role", ["\x00", "nobody", "owner\x00"])
def test_members_filter_by_an_unknown_role_is_422(owner_client, role):
    assert_422(owner_client.get("/api/members", {"role": role}), "role")


def test_members_filter_by_a_role_still_filters(owner_client, org):
    MembershipFactory.create(org=org, role="viewer")
    body = owner_client.get("/api/members", {"role": "viewer"}).json()
    assert [m["role"] for m in body["data"]] == ["viewer"]


@pytest.mark.parametrize(
    "origin", ["https://[::1", "https://[", "http://[zz]:80", "https://a:99999"]
)
def test_key_create_with_a_broken_origin_is_422(owner_client, origin):
    response = owner_client.post(
        "/api/api-keys", {"name": "k", "allowed_origins": [origin]}, format="json"
    )
    assert_422(response, "allowed_origins")


def test_key_update_with_a_broken_origin_is_422(owner_client):
    key_id = owner_client.post("/api/api-keys", {"name": "k"}, format="json").json()["id"]
    response = owner_client.patch(
        f"/api/api-keys/{key_id}", {"allowed_origins": ["https://[::1"]}, format="json"
    )
    assert_422(response, "allowed_origins")


@pytest.mark.parametrize("name", ["Acme\r\nBcc: x@evil.test", "Acme\n", "Tab\there", "Nul\x7f"])
def test_org_names_refuse_control_characters(owner_client, name):
    assert_422(owner_client.patch("/api/org", {"name": name}, format="json"), "name")
    response = owner_client.post("/api/orgs", {"slug": "newco", "name": name}, format="json")
    assert_422(response, "name")


@pytest.mark.django_db(transaction=True)
def test_a_mail_failure_after_commit_is_logged_not_raised(org, as_member, monkeypatch, caplog):
    client = as_member(org, role="owner")

    def broken_send_mail(*args, **kwargs):
        raise OSError("SMTP server unreachable")

    monkeypatch.setattr("orgs.services.send_mail", broken_send_mail)
    response = client.post(
        "/api/invitations", {"email": "new@example.test", "role": "member"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert "invitation" in caplog.text.lower()
    assert "inv_" not in caplog.text  # the token never reaches a log


@pytest.mark.parametrize("value", [0, 1, "off", "no", "0", "false", "true", None, [], {}])
def test_jwt_enabled_accepts_only_json_booleans(owner_client, org, value):
    assert_422(owner_client.patch("/api/org", {"jwt_enabled": value}, format="json"), "jwt_enabled")
    org.refresh_from_db()
    assert org.jwt_enabled is True


def test_jwt_enabled_false_still_switches_it_off(owner_client, org):
    response = owner_client.patch("/api/org", {"jwt_enabled": False}, format="json")
    assert response.status_code == 200, response.content
    org.refresh_from_db()
    assert org.jwt_enabled is False


@pytest.mark.parametrize("value", [0, 12.5, True, ["a"], {"a": 1}])
def test_strings_accept_only_json_strings(owner_client, org, value):
    assert_422(owner_client.patch("/api/org", {"name": value}, format="json"), "name")
    response = owner_client.post("/api/orgs", {"slug": value, "name": "x"}, format="json")
    assert_422(response, "slug")
    response = owner_client.post("/api/api-keys", {"name": value}, format="json")
    assert_422(response, "name")
    assert Organization.objects.get(pk=org.pk).name != "0"


def test_a_numeric_leak_report_source_is_422():
    response = APIClient().post(
        "/api/public/leaked-keys", [{"token": "tnt_live_x", "source": 12}], format="json"
    )
    assert_422(response)


def test_leak_reports_are_capped_before_any_item_is_validated(monkeypatch):
    def must_not_run(self, data):
        raise AssertionError("an item was validated before the cap")

    monkeypatch.setattr(apikey_serializers.LeakReportSerializer, "to_internal_value", must_not_run)
    items = [{"token": "x"}] * 100_000
    started = time.monotonic()
    response = APIClient().post("/api/public/leaked-keys", items, format="json")
    assert_422(response)
    assert time.monotonic() - started < 5


def test_leak_reports_at_the_cap_are_still_read(org):
    creator = MembershipFactory.create(org=org, role="admin")
    key, raw = api_key_create(org=org, actor=Actor.system(), creator=creator, name="k")
    items = [{"token": "noise"}] * 999 + [{"token": raw}]
    response = APIClient().post("/api/public/leaked-keys", items, format="json")
    assert response.status_code == 202, response.content[:300]
    assert APIKey.objects.for_org(org).get(pk=key.pk).revoked_at is not None


def test_mail_outbox_is_untouched_by_refused_requests(owner_client):
    owner_client.patch("/api/org", {"name": "x\r\ny"}, format="json")
    assert mail.outbox == []
