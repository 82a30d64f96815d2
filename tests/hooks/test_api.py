"""/api/hooks: owners register pre-write hooks (the secret shown once), admins read them,
the SSRF rules of webhooks apply at registration, and a test call reports the answer."""

import json

import pytest

from apikeys.services import api_key_create
from audit.actors import Actor
from audit.models import AuditEvent
from hooks.models import PreWriteHook
from hooks.services import MAX_HOOKS_PER_ORG
from tests.apikeys.conftest import with_key
from tests.hooks.conftest import ALLOW, deny, make_hook

pytestmark = pytest.mark.django_db

URL = "https://policy.example.test/tenantry/hook?token=receiver-query-token"


@pytest.fixture(autouse=True)
def _production_url_rules(settings):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False


@pytest.fixture
def owner(org, as_member):
    return as_member(org, role="owner")


def _create(client, **fields):
    body = {"url": URL, "actions": ["api_key.create"], **fields}
    return client.post("/api/hooks", body, format="json")


def test_an_owner_registers_a_hook_and_sees_its_secret_once(org, owner):
    response = _create(owner, description="Ticket check", failure_mode="open")
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert response["Cache-Control"] == "no-store"
    assert body == {
        "id": body["id"],
        "url": URL,
        "description": "Ticket check",
        "actions": ["api_key.create"],
        "failure_mode": "open",
        "enabled": True,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "secret": secret,
    }
    listed = owner.get("/api/hooks").json()
    fetched = owner.get(f"/api/hooks/{body['id']}").json()
    patched = owner.patch(f"/api/hooks/{body['id']}", {"enabled": False}, format="json").json()
    for answer in (listed, fetched, patched):
        assert secret not in json.dumps(answer)
    assert listed["data"][0]["id"] == body["id"]
    assert patched["enabled"] is False
    assert secret not in json.dumps(list(AuditEvent.dangerously_unscoped.values("metadata")))
    assert PreWriteHook.objects.for_org(org).get().secret == secret


def test_registration_is_audited_without_the_secret_or_the_urls_query(org, owner):
    response = _create(owner)
    [event] = AuditEvent.dangerously_unscoped.filter(action="hook.created")
    assert event.actor_id == str(owner.membership.user_id)
    assert event.target_id == str(response.json()["id"])
    assert event.metadata == {
        "url": "https://policy.example.test/…",
        "description": "",
        "actions": ["api_key.create"],
        "failure_mode": "closed",
        "enabled": True,
    }


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/hooks", {"url": URL, "actions": ["member.invite"]}),
        ("patch", "/api/hooks/{pk}", {"enabled": False}),
        ("delete", "/api/hooks/{pk}", None),
        ("post", "/api/hooks/{pk}/test", None),
    ],
)
def test_an_admin_may_not_change_hooks(org, as_member, method, path, body):
    hook = make_hook(org, URL)
    admin = as_member(org, role="admin")
    response = getattr(admin, method)(path.format(pk=hook.pk), body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert PreWriteHook.objects.for_org(org).get().enabled is True
    assert not AuditEvent.dangerously_unscoped.filter(action__startswith="hook.").exists()


def test_an_admin_reads_hooks_but_never_their_secret(org, as_member):
    hook = make_hook(org, URL)
    admin = as_member(org, role="admin")
    listed = admin.get("/api/hooks")
    fetched = admin.get(f"/api/hooks/{hook.pk}")
    assert listed.status_code == fetched.status_code == 200
    assert listed.json()["data"][0]["id"] == hook.pk
    assert hook.secret not in listed.content.decode() + fetched.content.decode()


@pytest.mark.parametrize("role", ["developer", "member", "viewer"])
def test_other_roles_may_not_even_read_hooks(org, as_member, role):
    make_hook(org, URL)
    assert as_member(org, role=role).get("/api/hooks").status_code == 403


def test_an_owners_key_needs_the_security_write_scope(org, owner):
    def key(scope):
        _, raw = api_key_create(
            org=org, actor=Actor.system(), creator=owner.membership, name=scope, scopes=[scope]
        )
        return with_key(raw)

    reader = key("security:read")
    assert reader.get("/api/hooks").status_code == 200
    assert _create(reader).status_code == 403
    assert _create(key("security:write")).status_code == 201


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"url": "http://policy.example.test/"}, "url", "Enter a valid https URL"),
        ({"url": "https://10.0.0.8/hook"}, "url", "Private and reserved addresses"),
        ({"url": "https://169.254.169.254/"}, "url", "Private and reserved addresses"),
        ({"url": "https://[::ffff:127.0.0.1]/"}, "url", "Private and reserved addresses"),
        ({"url": "https://localhost/"}, "url", "Private and reserved addresses"),
        ({"url": "https://user:pw@policy.example.test/"}, "url", "Credentials in the URL"),
        ({"actions": []}, "actions", "Choose at least one"),
        ({"actions": ["member.remove"]}, "actions", "Not a hookable action: member.remove"),
        ({"failure_mode": "maybe"}, "failure_mode", ""),
    ],
)
def test_registration_refuses_what_webhooks_refuse(org, owner, fields, field, message):
    response = _create(owner, **fields)
    assert response.status_code == 422, response.content
    errors = response.json()["details"]["fieldErrors"][field]
    assert any(message in e for e in errors), errors
    assert not PreWriteHook.objects.for_org(org).exists()


def test_an_update_is_held_to_the_same_rules(org, owner):
    hook = make_hook(org, URL)
    response = owner.patch(f"/api/hooks/{hook.pk}", {"url": "https://127.0.0.1/"}, format="json")
    assert response.status_code == 422
    hook.refresh_from_db()
    assert hook.url == URL


def test_an_org_has_a_bounded_number_of_hooks(org, owner):
    for n in range(MAX_HOOKS_PER_ORG):
        make_hook(org, f"https://policy.example.test/{n}")
    response = _create(owner)
    assert response.status_code == 422
    assert PreWriteHook.objects.for_org(org).count() == MAX_HOOKS_PER_ORG


def test_update_and_delete_are_audited(org, owner):
    hook = make_hook(org, URL)
    owner.patch(f"/api/hooks/{hook.pk}", {"failure_mode": "open"}, format="json")
    assert owner.delete(f"/api/hooks/{hook.pk}").status_code == 204
    events = AuditEvent.dangerously_unscoped.filter(action__startswith="hook.").order_by("id")
    updated, deleted = events
    assert updated.action == "hook.updated"
    assert updated.metadata == {
        "before": {"failure_mode": "closed"},
        "after": {"failure_mode": "open"},
    }
    assert deleted.action == "hook.deleted"
    assert not PreWriteHook.objects.for_org(org).exists()


# --- The test call -----------------------------------------------------------------------


def test_a_test_call_reports_the_hooks_answer_and_is_audited(org, owner, hook_receiver):
    receiver = hook_receiver(deny("not on Fridays"))
    hook = make_hook(org, receiver.url, actions=["member.invite"])
    response = owner.post(f"/api/hooks/{hook.pk}/test")
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["outcome"] == "denied"
    assert result["reason"] == "not on Fridays"
    assert result["status_code"] == 200
    assert result["writes_would_proceed"] is False
    sent = json.loads(receiver.requests[0].body)
    assert sent["data"]["test"] is True
    assert sent["data"]["action"] == "member.invite"
    [event] = AuditEvent.dangerously_unscoped.filter(action="hook.tested")
    assert event.metadata["outcome"] == "denied"


def test_a_test_call_to_a_silent_fail_open_hook_says_writes_go_ahead(org, owner, hook_receiver):
    hook = make_hook(org, hook_receiver(ALLOW, delay=5.0).url, failure_mode="open")
    result = owner.post(f"/api/hooks/{hook.pk}/test").json()
    assert result["outcome"] == "timeout"
    assert result["writes_would_proceed"] is True


def test_another_orgs_hook_is_not_found(org, other_org, owner):
    theirs = make_hook(other_org, URL)
    assert owner.get(f"/api/hooks/{theirs.pk}").status_code == 404
    assert owner.post(f"/api/hooks/{theirs.pk}/test").status_code == 404
    assert owner.delete(f"/api/hooks/{theirs.pk}").status_code == 404
    assert PreWriteHook.objects.for_org(other_org).exists()


# --- The document ------------------------------------------------------------------------


def test_the_document_declares_hook_denied_on_every_hooked_operation(api):
    spec = api.get("/api/docs.json").json()
    assert "hook_denied" in spec["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
    hooked = {
        ("/api/invitations", "post"): "member.invite",
        ("/api/members/{id}", "patch"): "member.role_change",
        ("/api/api-keys", "post"): "api_key.create",
        ("/api/api-keys/{id}/roll", "post"): "api_key.roll",
    }
    for (path, method), action in hooked.items():
        forbidden = spec["paths"][path][method]["responses"]["403"]
        assert "hook_denied" in forbidden["description"], path
        assert f"`{action}`" in forbidden["description"], path
        assert forbidden["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    test_call = spec["paths"]["/api/hooks/{id}/test"]["post"]["responses"]
    assert {"200", "401", "403", "404", "422", "429"} <= set(test_call)
