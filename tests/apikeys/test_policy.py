"""The org's API-key policy: owners set it, admins read it; create and roll enforce each
rule with a 422 naming it; keys left outside a new policy are listed and flagged."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apikeys.models import APIKey, APIKeyPolicy
from apikeys.services import api_key_create, api_key_policy_set
from audit.actors import Actor
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()


def _policy(org, **changes):
    return api_key_policy_set(org=org, actor=SYSTEM, by=None, changes=changes)


def _in_days(days):
    return (timezone.now() + timedelta(days=days)).isoformat()


def _assert_refused(response, rule):
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "policy_violation"
    assert set(body) == {"error", "code", "details", "request_id"}
    assert rule in body["details"]["rules"]
    assert rule in body["error"]  # the message names the rule
    return body


def test_an_org_without_a_policy_has_no_restriction(org, as_member):
    admin = as_member(org, role="admin")
    response = admin.get("/api/api-key-policy")
    assert response.status_code == 200
    assert response.json() == {
        "max_lifetime_days": None,
        "revoke_unused_after_days": None,
        "scope_ceilings": {r: None for r in ("owner", "admin", "developer", "member", "viewer")},
        "max_active_keys_per_member": None,
        "allowed_environments": {
            r: None for r in ("owner", "admin", "developer", "member", "viewer")
        },
        "require_ip_allowlist_for_live": False,
    }
    assert not APIKeyPolicy.objects.for_org(org).exists()


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_admin_reads_the_policy_but_may_not_change_it(org, as_member, method):
    admin = as_member(org, role="admin")
    response = getattr(admin, method)("/api/api-key-policy", {"max_lifetime_days": 30}, "json")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not APIKeyPolicy.objects.for_org(org).exists()
    assert admin.get("/api/api-key-policy").status_code == 200


@pytest.mark.parametrize("role", ["developer", "member", "viewer"])
def test_roles_below_admin_cannot_read_the_policy(org, as_member, role):
    assert as_member(org, role=role).get("/api/api-key-policy").status_code == 403


def test_an_owner_sets_the_policy_audited_with_before_and_after(org, as_member):
    owner = as_member(org, role="owner")
    response = owner.patch(
        "/api/api-key-policy",
        {"max_lifetime_days": 90, "allowed_environments": {"developer": ["test"]}},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["max_lifetime_days"] == 90
    assert body["allowed_environments"]["developer"] == ["test"]
    assert body["allowed_environments"]["admin"] is None
    event = AuditEvent.objects.for_org(org).get(action="api_key_policy.updated")
    assert event.metadata["before"]["max_lifetime_days"] is None
    assert event.metadata["after"]["max_lifetime_days"] == 90
    assert event.actor_id == str(owner.membership.user_id)
    # PUT replaces: what it leaves out is no restriction.
    response = owner.put("/api/api-key-policy", {"max_active_keys_per_member": 3}, format="json")
    assert response.json()["max_lifetime_days"] is None
    assert response.json()["allowed_environments"]["developer"] is None
    assert response.json()["max_active_keys_per_member"] == 3


def test_bad_policy_values_are_422(org, as_member):
    owner = as_member(org, role="owner")
    for body in (
        {"max_lifetime_days": 0},
        {"revoke_unused_after_days": 3},
        {"scope_ceilings": {"developer": ["nope:read"]}},
        {"allowed_environments": {"developer": ["prod"]}},
        {"require_ip_allowlist_for_live": "yes"},
    ):
        response = owner.patch("/api/api-key-policy", body, format="json")
        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_error"


# --- Each rule refuses a non-compliant create and roll --------------------------------------


def _key(org, membership, **fields):
    return api_key_create(org=org, actor=SYSTEM, creator=membership, name="k", **fields)[0]


def test_max_lifetime_refuses_create_and_roll(org, as_member):
    dev = as_member(org, role="developer")
    old = _key(org, dev.membership)  # never expires: made before the policy
    _policy(org, max_lifetime_days=30)
    _assert_refused(dev.post("/api/api-keys", {"name": "forever"}, format="json"), "max_lifetime")
    far = {"name": "long", "expires_at": _in_days(31)}
    body = _assert_refused(dev.post("/api/api-keys", far, format="json"), "max_lifetime")
    assert "expires_at" in body["details"]["fieldErrors"]
    ok = {"name": "short", "expires_at": _in_days(29)}
    assert dev.post("/api/api-keys", ok, format="json").status_code == 201
    _assert_refused(dev.post(f"/api/api-keys/{old.pk}/roll", {}, format="json"), "max_lifetime")
    rolled = dev.post(f"/api/api-keys/{old.pk}/roll", {"expires_at": _in_days(10)}, format="json")
    assert rolled.status_code == 201, rolled.content


def test_scope_ceiling_refuses_create_and_roll(org, as_member):
    dev = as_member(org, role="developer")
    old = _key(org, dev.membership, scopes=["api_key:read", "api_key:write"])
    _policy(org, scope_ceilings={"developer": ["api_key:read", "org:read"]})
    # No scopes means the whole role, which is above the ceiling.
    _assert_refused(dev.post("/api/api-keys", {"name": "all"}, format="json"), "scope_ceiling")
    wide = {"name": "wide", "scopes": ["api_key:write"]}
    body = _assert_refused(dev.post("/api/api-keys", wide, format="json"), "scope_ceiling")
    assert "scopes" in body["details"]["fieldErrors"]
    narrow = {"name": "narrow", "scopes": ["api_key:read"]}
    assert dev.post("/api/api-keys", narrow, format="json").status_code == 201
    _assert_refused(dev.post(f"/api/api-keys/{old.pk}/roll", {}, format="json"), "scope_ceiling")


def test_max_active_keys_refuses_create_and_roll(org, as_member):
    dev = as_member(org, role="developer")
    first = _key(org, dev.membership)
    _key(org, dev.membership)
    _key(org, dev.membership, expires_at=timezone.now() + timedelta(days=1))
    _policy(org, max_active_keys_per_member=2)
    _assert_refused(dev.post("/api/api-keys", {"name": "4th"}, format="json"), "max_active_keys")
    # Rolling replaces a key, but two others stay active: the new one would be the third.
    _assert_refused(
        dev.post(f"/api/api-keys/{first.pk}/roll", {}, format="json"), "max_active_keys"
    )
    # Revoked keys do not count; a roll of one of exactly two keys is fine.
    APIKey.objects.for_org(org).exclude(pk=first.pk).filter(expires_at__isnull=False).update(
        revoked_at=timezone.now()
    )
    assert dev.post(f"/api/api-keys/{first.pk}/roll", {}, format="json").status_code == 201
    # Another member has a budget of their own.
    other = as_member(org, role="developer")
    assert other.post("/api/api-keys", {"name": "theirs"}, format="json").status_code == 201


def test_environment_refuses_create_and_roll(org, as_member):
    dev = as_member(org, role="developer")
    old = _key(org, dev.membership, env="live")
    _policy(org, allowed_environments={"developer": ["test"], "viewer": []})
    live = {"name": "live", "env": "live"}
    body = _assert_refused(dev.post("/api/api-keys", live, format="json"), "environment")
    assert "env" in body["details"]["fieldErrors"]
    assert dev.post("/api/api-keys", {"name": "t", "env": "test"}, format="json").status_code == 201
    _assert_refused(dev.post(f"/api/api-keys/{old.pk}/roll", {}, format="json"), "environment")
    # Roles the table does not name are not restricted.
    admin = as_member(org, role="admin")
    assert admin.post("/api/api-keys", live, format="json").status_code == 201


def test_live_ip_allowlist_refuses_create_roll_and_emptying_the_list(org, as_member):
    dev = as_member(org, role="developer")
    old = _key(org, dev.membership, env="live")
    _policy(org, require_ip_allowlist_for_live=True)
    live = {"name": "live", "env": "live"}
    body = _assert_refused(dev.post("/api/api-keys", live, format="json"), "live_ip_allowlist")
    assert "allowed_ips" in body["details"]["fieldErrors"]
    fenced = {**live, "allowed_ips": ["203.0.113.0/24"]}
    made = dev.post("/api/api-keys", fenced, format="json")
    assert made.status_code == 201
    assert dev.post("/api/api-keys", {"name": "t", "env": "test"}, format="json").status_code == 201
    _assert_refused(
        dev.post(f"/api/api-keys/{old.pk}/roll", {}, format="json"), "live_ip_allowlist"
    )
    emptied = dev.patch(f"/api/api-keys/{made.json()['id']}", {"allowed_ips": []}, format="json")
    _assert_refused(emptied, "live_ip_allowlist")


def test_every_broken_rule_is_named_at_once_and_nothing_is_written(org, as_member):
    dev = as_member(org, role="developer")
    _policy(org, max_lifetime_days=7, allowed_environments={"developer": ["test"]})
    before = (APIKey.objects.for_org(org).count(), AuditEvent.objects.for_org(org).count())
    body = _assert_refused(
        dev.post("/api/api-keys", {"name": "x", "env": "live"}, format="json"), "environment"
    )
    assert body["details"]["rules"] == ["max_lifetime", "environment"]
    assert (APIKey.objects.for_org(org).count(), AuditEvent.objects.for_org(org).count()) == before


# --- Keys outside a new policy: listed in the change, flagged in the list --------------------


def test_the_policy_change_lists_the_keys_it_leaves_outside_and_revokes_none(org, as_member):
    owner = as_member(org, role="owner")
    dev = as_member(org, role="developer")
    forever = _key(org, dev.membership, env="live")
    short = _key(org, dev.membership, env="test", expires_at=timezone.now() + timedelta(days=5))
    revoked = _key(org, dev.membership)
    APIKey.objects.for_org(org).filter(pk=revoked.pk).update(revoked_at=timezone.now())
    response = owner.patch(
        "/api/api-key-policy",
        {"max_lifetime_days": 30, "require_ip_allowlist_for_live": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    listed = {k["id"]: k["out_of_policy"] for k in response.json()["out_of_policy_keys"]}
    assert listed == {forever.pk: ["max_lifetime", "live_ip_allowlist"]}
    assert response.json()["out_of_policy_keys"][0]["created_by"]["email"] == (
        dev.membership.user.email
    )
    assert APIKey.objects.for_org(org).get(pk=forever.pk).revoked_at is None
    # The list and the detail flag it; compliant keys carry no flag.
    flags = {k["id"]: k["out_of_policy"] for k in owner.get("/api/api-keys").json()["data"]}
    assert flags[forever.pk] == ["max_lifetime", "live_ip_allowlist"]
    assert flags[short.pk] == []
    assert flags[revoked.pk] == []
    detail = dev.get(f"/api/api-keys/{forever.pk}").json()
    assert detail["out_of_policy"] == ["max_lifetime", "live_ip_allowlist"]


def test_members_over_the_key_limit_and_unused_keys_are_flagged(org, as_member):
    owner = as_member(org, role="owner")
    dev = as_member(org, role="developer")
    a, b = _key(org, dev.membership), _key(org, dev.membership)
    idle = _key(org, owner.membership)
    APIKey.objects.for_org(org).filter(pk=idle.pk).update(
        created_at=timezone.now() - timedelta(days=40)
    )
    response = owner.patch(
        "/api/api-key-policy",
        {"max_active_keys_per_member": 1, "revoke_unused_after_days": 30},
        format="json",
    )
    listed = {k["id"]: k["out_of_policy"] for k in response.json()["out_of_policy_keys"]}
    assert listed == {
        idle.pk: ["revoke_unused"],
        a.pk: ["max_active_keys"],
        b.pk: ["max_active_keys"],
    }


def test_the_key_list_reads_the_policy_in_a_bounded_number_of_queries(
    org, as_member, max_data_queries
):
    owner = as_member(org, role="owner")
    for _ in range(5):
        _key(org, owner.membership)
    _policy(org, max_active_keys_per_member=1, max_lifetime_days=30)
    with max_data_queries(8):
        response = owner.get("/api/api-keys")
    assert response.status_code == 200
    assert all(k["out_of_policy"] for k in response.json()["data"])
