"""Security settings are the owners': an admin reads them and gets 403 (the error shape)
on each write, also per field where one endpoint mixes fields; each change is audited."""

import pytest

from apikeys.models import APIKeyPolicy
from audit.models import AuditEvent
from orgs.models import Organization

pytestmark = pytest.mark.django_db

# Each owner-only setting, with the request that changes it.
OWNER_ONLY_WRITES = [
    ("patch", "/api/org", {"jwt_enabled": False}),
    ("patch", "/api/org", {"name": "Renamed", "jwt_enabled": False}),  # mixed: nothing applied
    ("patch", "/api/org/security", {"jwt_enabled": False}),
    ("patch", "/api/org/security", {"allowed_email_domains": ["acme.test"]}),
    ("patch", "/api/org/security", {"default_role": "admin"}),
    ("patch", "/api/org/security", {"mfa_required": True}),
    ("put", "/api/api-key-policy", {"max_lifetime_days": 30}),
    ("patch", "/api/api-key-policy", {"require_ip_allowlist_for_live": True}),
]


def _state(org):
    org = Organization.objects.get(pk=org.pk)
    return (
        org.name,
        org.jwt_enabled,
        org.allowed_email_domains,
        org.default_role,
        org.mfa_required,
        APIKeyPolicy.objects.for_org(org).exists(),
        AuditEvent.objects.for_org(org).count(),
    )


@pytest.mark.parametrize(("method", "path", "body"), OWNER_ONLY_WRITES)
def test_an_admin_gets_403_on_each_owner_only_setting(org, as_member, method, path, body):
    admin = as_member(org, role="admin")
    before = _state(org)
    response = getattr(admin, method)(path, body, format="json")
    assert response.status_code == 403, response.content
    error = response.json()
    assert set(error) == {"error", "code", "details", "request_id"}
    assert error["code"] == "forbidden"
    assert "owner" in error["error"].lower() or "role" in error["error"].lower()
    assert _state(org) == before


@pytest.mark.parametrize(("method", "path", "body"), OWNER_ONLY_WRITES)
def test_an_owner_changes_each_of_them(org, as_member, method, path, body):
    owner = as_member(org, role="owner")
    response = getattr(owner, method)(path, body, format="json")
    assert response.status_code == 200, response.content


def test_an_admin_still_renames_the_org(org, as_member):
    admin = as_member(org, role="admin")
    assert admin.patch("/api/org", {"name": "Renamed"}, format="json").status_code == 200


def test_admins_read_the_security_settings_and_members_do_not(org, as_member):
    org.allowed_email_domains = ["acme.test"]
    org.save()
    body = as_member(org, role="admin").get("/api/org/security").json()
    assert body == {"jwt_enabled": True, "allowed_email_domains": ["acme.test"],
                    "default_role": "member", "mfa_required": False}  # fmt: skip
    for role in ("developer", "member", "viewer"):
        assert as_member(org, role=role).get("/api/org/security").status_code == 403


def test_security_changes_are_audited_with_before_and_after(org, as_member):
    owner = as_member(org, role="owner")
    response = owner.patch(
        "/api/org/security",
        {"jwt_enabled": False, "allowed_email_domains": ["Acme.test"], "default_role": "viewer"},
        format="json",
    )
    assert response.json() == {"jwt_enabled": False, "allowed_email_domains": ["acme.test"],
                               "default_role": "viewer", "mfa_required": False}  # fmt: skip
    switched = AuditEvent.objects.for_org(org).get(action="org.updated")
    assert switched.metadata == {"before": {"jwt_enabled": True}, "after": {"jwt_enabled": False}}
    domains = AuditEvent.objects.for_org(org).get(action="org.email_domains_changed")
    assert domains.metadata["before"]["allowed_email_domains"] == []
    assert domains.metadata["after"] == {"allowed_email_domains": ["acme.test"],
                                         "default_role": "viewer"}  # fmt: skip
    assert switched.actor_id == domains.actor_id == str(owner.membership.user_id)


def test_a_bad_domain_changes_nothing(org, as_member):
    owner = as_member(org, role="owner")
    response = owner.patch(
        "/api/org/security",
        {"jwt_enabled": False, "allowed_email_domains": ["not a domain"]},
        format="json",
    )
    assert response.status_code == 422
    assert Organization.objects.get(pk=org.pk).jwt_enabled is True


def test_an_owner_scoped_key_without_security_write_is_refused(org, as_member):
    from apikeys.services import api_key_create
    from audit.actors import Actor

    owner = as_member(org, role="owner")
    _, raw = api_key_create(
        org=org, actor=Actor.system(), creator=owner.membership, name="k",
        scopes=["org:read", "org:write", "security:read"],
    )  # fmt: skip
    from rest_framework.test import APIClient

    key = APIClient()
    key.credentials(HTTP_X_API_KEY=raw)
    assert key.patch("/api/org", {"jwt_enabled": False}, format="json").status_code == 403
    assert key.get("/api/org/security").status_code == 200
    assert key.patch("/api/org", {"name": "Renamed"}, format="json").status_code == 200
