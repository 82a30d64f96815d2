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
from orgs.services import invitation_create
from tests.audit.helpers import make_endpoint
from tests.factories import PASSWORD, MembershipFactory, UserFactory
from tests.routes import api_routes, portal_routes

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

    def mfa_login():
        from accounts import mfa
        from audit.actors import RequestContext
        from tests.mfa_helpers import code_now, enroll

        member = MembershipFactory.create(org=org)
        enroll(member.user)
        token = mfa.challenge_open(
            user=member.user, channel="api", login_org=org, context=RequestContext()
        )
        body = {"mfa_token": token, "code": code_now(member.user)}
        return APIClient(), "/api/auth/mfa", body, "auth.login"

    def mfa_confirm():
        from accounts import mfa
        from tests.mfa_helpers import code_now

        client = admin()
        user = client.membership.user
        mfa.totp_enroll_start(user=user, actor=Actor.for_user(user), org_id=None)
        body = {"code": code_now(user)}
        return client, "/api/users/me/mfa/totp/confirm", body, "auth.mfa_enrolled"

    def mfa_disable():
        from tests.mfa_helpers import code_now, enroll

        client = admin()
        enroll(client.membership.user)
        body = {"password": PASSWORD, "code": code_now(client.membership.user)}
        return client, "/api/users/me/mfa/disable", body, "auth.mfa_disabled"

    def mfa_recovery_codes():
        from tests.mfa_helpers import code_now, enroll

        client = admin()
        enroll(client.membership.user)
        body = {"code": code_now(client.membership.user)}
        path = "/api/users/me/mfa/recovery-codes"
        return client, path, body, "auth.mfa_recovery_codes_regenerated"

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

    def invitation_resend():
        client = admin()
        invitation, _ = invitation_create(
            org=org, actor=system, by=None, email="x@example.test", role="member"
        )
        return client, f"/api/invitations/{invitation.pk}/resend", None, "invitation.resent"

    def webhook_test():
        return admin(), f"/api/webhooks/{webhook().pk}/test", None, "webhook.tested"

    def webhook_retry():
        from audit.webhooks.models import WebhookDelivery
        from audit.webhooks.services import webhook_endpoint_send_test

        endpoint = webhook()
        delivery = webhook_endpoint_send_test(org=org, actor=system, endpoint=endpoint)
        WebhookDelivery.objects.for_org(org).filter(pk=delivery.pk).update(status="dead")
        path = f"/api/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/retry"
        return admin(), path, None, "webhook.delivery_retried"

    def webhook_delete():
        return admin(), f"/api/webhooks/{webhook().pk}", None, "webhook.deleted"

    def hook():
        from tests.hooks.conftest import make_hook

        # Nothing listens there: a test call gets no answer (or is refused by the SSRF
        # filter), and is audited all the same, without leaving this machine.
        return make_hook(org, "http://127.0.0.1:9/hook")

    def hook_test():
        return admin(), f"/api/hooks/{hook().pk}/test", None, "hook.tested"

    def leak():
        _, raw = key_of(admin())
        return APIClient(), "/api/public/leaked-keys", [{"token": raw}], "api_key.leak_reported"

    return {
        "POST /api/auth/login": login,
        "POST /api/auth/refresh": refresh,
        "POST /api/auth/mfa": mfa_login,
        "POST /api/users/me/mfa/totp": lambda: (
            admin(),
            "/api/users/me/mfa/totp",
            None,
            "auth.mfa_enrollment_started",
        ),
        "POST /api/users/me/mfa/totp/confirm": mfa_confirm,
        "POST /api/users/me/mfa/disable": mfa_disable,
        "POST /api/users/me/mfa/recovery-codes": mfa_recovery_codes,
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
        "PATCH /api/org/security": lambda: (
            admin(),
            "/api/org/security",
            {"allowed_email_domains": ["acme.test"]},
            "org.email_domains_changed",
        ),
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
        "PUT /api/api-key-policy": lambda: (
            admin(),
            "/api/api-key-policy",
            {"max_lifetime_days": 90},
            "api_key_policy.updated",
        ),
        "PATCH /api/api-key-policy": lambda: (
            admin(),
            "/api/api-key-policy",
            {"allowed_environments": {"developer": ["test"]}},
            "api_key_policy.updated",
        ),
        "POST /api/webhooks": lambda: (
            admin(),
            "/api/webhooks",
            {"url": "https://hooks.example.test/new", "event_types": ["api_key.created"]},
            "webhook.created",
        ),
        "PATCH /api/webhooks/{pk}": webhook_patch,
        "DELETE /api/webhooks/{pk}": webhook_delete,
        "POST /api/invitations/{pk}/resend": invitation_resend,
        "POST /api/webhooks/{pk}/test": webhook_test,
        "POST /api/webhooks/{pk}/deliveries/{delivery_id}/retry": webhook_retry,
        "POST /api/hooks": lambda: (
            admin(),
            "/api/hooks",
            {"url": "https://policy.example.test/new", "actions": ["api_key.create"]},
            "hook.created",
        ),
        "PATCH /api/hooks/{pk}": lambda: (
            admin(),
            f"/api/hooks/{hook().pk}",
            {"failure_mode": "open"},
            "hook.updated",
        ),
        "DELETE /api/hooks/{pk}": lambda: (
            admin(),
            f"/api/hooks/{hook().pk}",
            None,
            "hook.deleted",
        ),
        "POST /api/hooks/{pk}/test": hook_test,
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
    for app in ("accounts", "orgs", "apikeys", "webhooks", "hooks", "otp_totp"):
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


# --- The portal's form posts: the same services, so the same one event each -------------

# Portal POSTs that change no org's data: choosing the org a session acts in. The sign-in
# pages (not org pages: PortalPublicView / PortalSignedInView) are held to their audit
# events by tests/accounts/; a new page of that kind must be named here.
PORTAL_NOT_WRITES = {"POST /orgs/switch/"}
SIGN_IN_PAGES = {
    "POST /login/",
    "POST /logout/",
    "POST /password-reset/",
    "PUT /password-reset/",
    "POST /reset/{uidb64}/{token}/",
    "PUT /reset/{uidb64}/{token}/",
    "POST /orgs/new/",
    # Audited, each asserted in tests/accounts/ (test_login_page, test_invitation_page,
    # test_account_page); the Google begin only stores the OAuth state in the session.
    "POST /oauth/login/{backend}/",
    "POST /invitations/accept/",
    "POST /account/sessions/{session_id}/end/",
    "POST /account/sessions/sign-out-others/",
    # The second factor (tests/accounts/test_mfa_pages.py): the sign-in's code and
    # enrollment steps, and the account page's own setup.
    "POST /login/code/",
    "POST /login/enroll/",
    "POST /account/mfa/start/",
    "POST /account/mfa/setup/",
    "POST /account/mfa/recovery-codes/",
    "POST /account/mfa/disable/",
}
PORTAL_AUDITED_READS = {"GET /settings/audit-log/export/"}


def _portal_recipes(org):
    """portal route -> () -> (client, path, form data, expected action)."""
    from django.test import Client

    from audit.webhooks.models import WebhookDelivery
    from audit.webhooks.services import webhook_endpoint_send_test
    from orgs.portal import SESSION_ORG_KEY

    system = Actor.system()

    def owner():
        membership = MembershipFactory.create(org=org, role="owner")
        client = Client(raise_request_exception=False)
        client.force_login(membership.user)
        session = client.session
        session[SESSION_ORG_KEY] = org.pk
        session.save()
        client.membership = membership  # type: ignore[attr-defined]
        return client

    def invitation():
        return invitation_create(
            org=org, actor=system, by=None, email="x@example.test", role="member"
        )[0]

    def own_key(client):
        return api_key_create(org=org, actor=system, creator=client.membership, name="k")[0]

    def failed_delivery():
        endpoint = make_endpoint(org, "https://hooks.example.test/ours")
        delivery = webhook_endpoint_send_test(org=org, actor=system, endpoint=endpoint)
        WebhookDelivery.objects.for_org(org).filter(pk=delivery.pk).update(status="failed")
        return endpoint, delivery

    def key_revoke():
        client = owner()
        return client, f"/settings/api-keys/{own_key(client).pk}/revoke/", {}, "api_key.revoked"

    def key_roll():
        client = owner()
        path = f"/settings/api-keys/{own_key(client).pk}/roll/"
        return client, path, {"grace_seconds": "3600"}, "api_key.rolled"

    def retry():
        endpoint, delivery = failed_delivery()
        path = f"/settings/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/retry/"
        return owner(), path, {}, "webhook.delivery_retried"

    def hook_path(suffix):
        from tests.hooks.conftest import make_hook

        return f"/settings/hooks/{make_hook(org, 'http://127.0.0.1:9/hook').pk}/{suffix}"

    def webhook_path(suffix):
        return (
            f"/settings/webhooks/{make_endpoint(org, 'https://hooks.example.test/o').pk}/{suffix}"
        )

    return {
        "POST /settings/members/": lambda: (
            owner(),
            "/settings/members/",
            {"email": "new@example.test", "role": "member"},
            "invitation.created",
        ),
        "POST /settings/members/{pk}/role/": lambda: (
            owner(),
            f"/settings/members/{MembershipFactory.create(org=org).pk}/role/",
            {"role": "viewer"},
            "member.role_changed",
        ),
        "POST /settings/members/{pk}/remove/": lambda: (
            owner(),
            f"/settings/members/{MembershipFactory.create(org=org).pk}/remove/",
            {},
            "member.removed",
        ),
        "POST /settings/invitations/{pk}/resend/": lambda: (
            owner(),
            f"/settings/invitations/{invitation().pk}/resend/",
            {},
            "invitation.resent",
        ),
        "POST /settings/invitations/{pk}/revoke/": lambda: (
            owner(),
            f"/settings/invitations/{invitation().pk}/revoke/",
            {},
            "invitation.revoked",
        ),
        "POST /settings/organization/": lambda: (
            owner(),
            "/settings/organization/",
            {"name": "Renamed"},
            "org.updated",
        ),
        "POST /settings/security/mfa/": lambda: (
            owner(),
            "/settings/security/mfa/",
            {"mfa_required": "on"},
            "org.mfa_requirement_changed",
        ),
        "POST /settings/security/": lambda: (
            owner(),
            "/settings/security/",
            {},  # the unticked box: JWT sign-in off
            "org.updated",
        ),
        "POST /settings/security/email-domains/": lambda: (
            owner(),
            "/settings/security/email-domains/",
            {"allowed_email_domains": "acme.test", "default_role": "member"},
            "org.email_domains_changed",
        ),
        "POST /settings/api-keys/policy/": lambda: (
            owner(),
            "/settings/api-keys/policy/",
            {"max_lifetime_days": "30", "env_developer": ["test"]},
            "api_key_policy.updated",
        ),
        "POST /settings/api-keys/new/": lambda: (
            owner(),
            "/settings/api-keys/new/",
            {"name": "ci", "env": "live"},
            "api_key.created",
        ),
        "POST /settings/api-keys/{pk}/revoke/": key_revoke,
        "POST /settings/api-keys/{pk}/roll/": key_roll,
        "POST /settings/webhooks/new/": lambda: (
            owner(),
            "/settings/webhooks/new/",
            {"url": "https://hooks.example.test/new"},
            "webhook.created",
        ),
        "POST /settings/webhooks/{pk}/test/": lambda: (
            owner(),
            webhook_path("test/"),
            {},
            "webhook.tested",
        ),
        "POST /settings/webhooks/{pk}/deliveries/{delivery_pk}/retry/": retry,
        "POST /settings/webhooks/{pk}/enabled/": lambda: (
            owner(),
            webhook_path("enabled/"),
            {},
            "webhook.updated",
        ),
        "POST /settings/webhooks/{pk}/delete/": lambda: (
            owner(),
            webhook_path("delete/"),
            {},
            "webhook.deleted",
        ),
        "POST /settings/hooks/new/": lambda: (
            owner(),
            "/settings/hooks/new/",
            {
                "url": "https://policy.example.test/new",
                "actions": ["member.invite"],
                "failure_mode": "closed",
            },
            "hook.created",
        ),
        "POST /settings/hooks/{pk}/test/": lambda: (
            owner(),
            hook_path("test/"),
            {},
            "hook.tested",
        ),
        "POST /settings/hooks/{pk}/edit/": lambda: (
            owner(),
            hook_path("edit/"),
            {"url": "http://127.0.0.1:9/hook", "actions": ["api_key.roll"], "failure_mode": "open"},
            "hook.updated",
        ),
        "POST /settings/hooks/{pk}/enabled/": lambda: (
            owner(),
            hook_path("enabled/"),
            {},
            "hook.updated",
        ),
        "POST /settings/hooks/{pk}/delete/": lambda: (
            owner(),
            hook_path("delete/"),
            {},
            "hook.deleted",
        ),
        "GET /settings/audit-log/export/": lambda: (
            owner(),
            "/settings/audit-log/export/?format=csv",
            None,
            "audit.exported",
        ),
    }


PORTAL_WRITES = [
    r
    for r in portal_routes()
    if r.acts_in_an_org
    and ((r.method == "POST" and str(r) not in PORTAL_NOT_WRITES) or str(r) in PORTAL_AUDITED_READS)
]


def test_every_portal_write_outside_the_org_pages_is_named():
    others = {
        str(r)
        for r in portal_routes()
        if r.method in MUTATING and not r.acts_in_an_org and str(r) not in PORTAL_NOT_WRITES
    }
    assert others == SIGN_IN_PAGES


def _portal_request(client, route, path, data):
    if route.method == "GET":
        response = client.get(path)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        return response
    return client.post(path, data or {})


@pytest.mark.parametrize("route", PORTAL_WRITES, ids=str)
def test_every_portal_write_records_exactly_one_audit_event(route, org):
    recipes = _portal_recipes(org)
    assert str(route) in recipes, f"{route} has no audit recipe: add one"
    client, path, data, expected = recipes[str(route)]()
    before = AuditEvent.dangerously_unscoped.count()
    response = _portal_request(client, route, path, data)
    assert response.status_code in (200, 302), f"{route}: {response.status_code}"
    new = list(AuditEvent.dangerously_unscoped.order_by("id")[before:])
    assert [e.action for e in new] == [expected], route
    assert new[0].request_id == response["X-Request-ID"]
    assert new[0].actor_type == "user"


@pytest.mark.parametrize("route", PORTAL_WRITES, ids=str)
def test_when_the_audit_insert_fails_the_portal_write_rolls_back(route, org, monkeypatch):
    client, path, data, _ = _portal_recipes(org)[str(route)]()
    before = _tenant_rows()

    def broken(*args, **kwargs):
        raise IntegrityError("injected: audit insert failed")

    monkeypatch.setattr(AuditEvent.objects, "create", broken)
    response = _portal_request(client, route, path, data)
    assert response.status_code == 500, f"{route}: {response.status_code}"
    assert _tenant_rows() == before, f"{route} wrote despite its audit insert failing"
