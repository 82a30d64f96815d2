"""Every mutating API route writes exactly one audit event with its registered action, in
the same transaction as its write: found by walking the URLconf, so a new route without a
recipe here fails the suite."""

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import IntegrityError
from rest_framework.test import APIClient

from apikeys.services import api_key_create
from audit.actors import Actor
from audit.models import AuditEvent
from audit.registry import all_actions
from orgs.invitations import invitation_create
from tests.audit.helpers import make_endpoint
from tests.factories import PASSWORD, MembershipFactory, UserFactory
from tests.routes import api_routes

pytestmark = pytest.mark.django_db

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# POST routes that write nothing (they read with a body), and so audit nothing.
READ_ONLY_POSTS = {"POST /api/public/verify"}
# Reads that are audited all the same: an export copies the audit log out in bulk, and the
# trail must show who did. They are held to the guarantees of a write: exactly one event,
# and no export at all when that event cannot be written.
AUDITED_READS = {"GET /api/audit-events/export"}


def _recipes(org, as_member, sign_in):
    """route -> () -> (client, path, body, expected action). Each builds its own state."""
    system = Actor.system()

    def admin():
        return as_member(org, role="owner")

    def key_of(client):
        return api_key_create(org=org, actor=system, creator=client.membership, name="k")

    def login():
        member = MembershipFactory.create(org=org)
        body = {"email": member.user.email, "password": PASSWORD, "org_slug": org.slug}
        return APIClient(), "/api/auth/login", body, "auth.login"

    def refresh():
        pair = sign_in(MembershipFactory.create(org=org))
        return (
            APIClient(),
            "/api/auth/refresh",
            {"refresh_token": pair.refresh_token},
            "auth.token_refreshed",
        )

    def accept():
        user = UserFactory.create(email="invitee@example.test")
        _, token = invitation_create(
            org=org, actor=system, by=None, email=user.email, role="member"
        )
        return (
            APIClient(),
            "/api/invitations/accept",
            {"token": token, "password": PASSWORD},
            "invitation.accepted",
        )

    def session_delete():
        from accounts.models import TokenFamily

        client = admin()
        sign_in(client.membership)  # a second API sign-in of the same person, ended here
        family = TokenFamily.objects.for_org(org).filter(user=client.membership.user).latest("pk")
        return client, f"/api/users/me/sessions/tf_{family.pk}", None, "auth.logout"

    def member_patch():
        client, target = admin(), MembershipFactory.create(org=org)
        return client, f"/api/members/{target.pk}", {"role": "viewer"}, "member.role_changed"

    def member_delete():
        client, target = admin(), MembershipFactory.create(org=org)
        return client, f"/api/members/{target.pk}", None, "member.removed"

    def invitation_delete():
        client = admin()
        invitation, _ = invitation_create(
            org=org, actor=system, by=None, email="x@example.test", role="member"
        )
        return client, f"/api/invitations/{invitation.pk}", None, "invitation.revoked"

    def key_patch():
        client = admin()
        return (
            client,
            f"/api/api-keys/{key_of(client)[0].pk}",
            {"name": "renamed"},
            "api_key.updated",
        )

    def key_delete():
        client = admin()
        return client, f"/api/api-keys/{key_of(client)[0].pk}", None, "api_key.revoked"

    def key_roll():
        client = admin()
        return (
            client,
            f"/api/api-keys/{key_of(client)[0].pk}/roll",
            {"grace_seconds": 60},
            "api_key.rolled",
        )

    def webhook():
        return make_endpoint(org, "https://hooks.example.test/ours")

    def webhook_patch():
        return (
            admin(),
            f"/api/webhooks/{webhook().pk}",
            {"description": "CRM sync"},
            "webhook.updated",
        )

    def webhook_delete():
        return admin(), f"/api/webhooks/{webhook().pk}", None, "webhook.deleted"

    def leak():
        _, raw = key_of(admin())
        return APIClient(), "/api/public/leaked-keys", [{"token": raw}], "api_key.leak_reported"

    return {
        "POST /api/auth/login": login,
        "POST /api/auth/refresh": refresh,
        "POST /api/auth/logout": lambda: (admin(), "/api/auth/logout", None, "auth.logout"),
        "POST /api/auth/logout-all": lambda: (
            admin(),
            "/api/auth/logout-all",
            None,
            "auth.logout_all",
        ),
        "DELETE /api/users/me/sessions/{pk}": session_delete,
        "POST /api/users/me/password": lambda: (
            admin(),
            "/api/users/me/password",
            {"current_password": PASSWORD, "new_password": "a-fresh-long-passphrase"},
            "user.password_changed",
        ),
        "POST /api/invitations/accept": accept,
        "POST /api/orgs": lambda: (
            admin(),
            "/api/orgs",
            {"slug": "brand-new", "name": "New"},
            "org.created",
        ),
        "PATCH /api/org": lambda: (admin(), "/api/org", {"name": "Renamed"}, "org.updated"),
        "PATCH /api/members/{pk}": member_patch,
        "DELETE /api/members/{pk}": member_delete,
        "POST /api/invitations": lambda: (
            admin(),
            "/api/invitations",
            {"email": "new@example.test", "role": "member"},
            "invitation.created",
        ),
        "DELETE /api/invitations/{pk}": invitation_delete,
        "POST /api/api-keys": lambda: (admin(), "/api/api-keys", {"name": "ci"}, "api_key.created"),
        "PATCH /api/api-keys/{pk}": key_patch,
        "DELETE /api/api-keys/{pk}": key_delete,
        "POST /api/api-keys/{pk}/roll": key_roll,
        "POST /api/public/leaked-keys": leak,
        "POST /api/webhooks": lambda: (
            admin(),
            "/api/webhooks",
            {"url": "https://hooks.example.test/new", "event_types": ["api_key.created"]},
            "webhook.created",
        ),
        "PATCH /api/webhooks/{pk}": webhook_patch,
        "DELETE /api/webhooks/{pk}": webhook_delete,
        "GET /api/audit-events/export": lambda: (
            admin(),
            "/api/audit-events/export?format=csv&action=org.updated",
            None,
            "audit.exported",
        ),
    }


MUTATING_ROUTES = [
    r
    for r in api_routes()
    if (r.method in MUTATING and str(r) not in READ_ONLY_POSTS) or str(r) in AUDITED_READS
]


def test_audited_reads_are_routes():
    assert {str(r) for r in api_routes()} >= AUDITED_READS


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def recipes(org, as_member, sign_in):
    return _recipes(org, as_member, sign_in)


@pytest.mark.parametrize("route", MUTATING_ROUTES, ids=str)
def test_every_mutating_route_writes_exactly_one_audit_event(route, recipes):
    assert str(route) in recipes, f"{route} has no audit recipe: add one"
    client, path, body, expected = recipes[str(route)]()
    assert expected in {a.name for a in all_actions()}
    before = AuditEvent.dangerously_unscoped.count()
    response = client.generic(route.method, path, data=_json(body), content_type="application/json")
    assert response.status_code < 300, f"{route}: {response.status_code} {response.content[:300]}"
    new = list(AuditEvent.dangerously_unscoped.order_by("id")[before:])
    assert [e.action for e in new] == [expected], route
    assert new[0].request_id == response["X-Request-ID"]


def _tenant_rows():
    """Every row of every table our apps own, except the audit trail itself."""
    snapshot = {}
    for app in ("accounts", "orgs", "apikeys", "webhooks"):
        for model in apps.get_app_config(app).get_models():
            snapshot[model._meta.label] = list(model._base_manager.order_by("pk").values())
    return snapshot


@pytest.mark.parametrize("route", MUTATING_ROUTES, ids=str)
def test_when_the_audit_insert_fails_the_write_rolls_back(route, recipes, monkeypatch):
    client, path, body, _ = recipes[str(route)]()
    before = _tenant_rows()

    def broken(*args, **kwargs):
        raise IntegrityError("injected: audit insert failed")

    monkeypatch.setattr(AuditEvent.objects, "create", broken)
    client.raise_request_exception = False
    response = client.generic(route.method, path, data=_json(body), content_type="application/json")
    assert response.status_code == 500, f"{route}: {response.status_code}"
    assert response.json()["code"] == "internal_error"
    assert _tenant_rows() == before, f"{route} wrote despite its audit insert failing"


def _json(body):
    import json

    return json.dumps(body) if body is not None else ""
