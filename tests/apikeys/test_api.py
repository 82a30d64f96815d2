import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from apikeys.authentication import use_throttle
from apikeys.models import APIKey
from audit.models import AuditEvent
from orgs.roles import actions_for
from tests.apikeys.conftest import with_key
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_create_returns_the_raw_key_once_and_lists_never_do(org, as_member, caplog):
    admin = as_member(org, role="admin")
    with caplog.at_level(logging.DEBUG):
        response = admin.post("/api/api-keys", {"name": "CI pipeline"}, format="json")
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    raw = body["key"]
    assert raw.startswith("tnt_live_")
    assert body["prefix"] == raw[:13]
    assert {
        "id",
        "name",
        "prefix",
        "key",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
    } <= set(body)
    listed = admin.get("/api/api-keys").json()
    fetched = admin.get(f"/api/api-keys/{body['id']}").json()
    assert raw not in str(listed)
    assert raw not in str(fetched)
    assert "key" not in fetched
    assert raw not in str(list(AuditEvent.dangerously_unscoped.values()))
    assert raw not in caplog.text
    stored = APIKey.objects.for_org(org).get()
    assert raw not in str(stored.__dict__)
    assert AuditEvent.dangerously_unscoped.filter(action="api_key.created").count() == 1


@pytest.mark.parametrize("style", ["x-api-key", "bearer", "bare"])
def test_three_header_styles_authenticate(org, make_key, style):
    _, raw = make_key(org)
    response = with_key(raw, style).get("/api/users/me")
    assert response.status_code == 200, response.content
    assert response.json()["credential"] == "api_key"


def test_key_in_the_query_string_or_body_is_ignored(org, make_key, api):
    _, raw = make_key(org)
    assert api.get(f"/api/users/me?api_key={raw}").status_code == 401
    assert api.post("/api/auth/logout-all", {"api_key": raw}, format="json").status_code == 401


def test_bad_checksum_is_refused_before_any_query(org, make_key, max_data_queries):
    _, raw = make_key(org)
    broken = raw[:-1] + ("0" if raw[-1] != "0" else "1")
    with max_data_queries(0):
        response = with_key(broken).get("/api/users/me")
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")
    assert raw[:20] not in response.content.decode()


def test_unknown_well_formed_key_is_401(org, make_key):
    from apikeys import crypto

    assert with_key(crypto.generate().raw).get("/api/users/me").status_code == 401


def test_revoked_key_fails_on_the_very_next_request(org, as_member, make_key):
    admin = as_member(org, role="admin")
    key, raw = make_key(org)
    client = with_key(raw)
    assert client.get("/api/users/me").status_code == 200
    assert admin.delete(f"/api/api-keys/{key.pk}").status_code == 204
    response = client.get("/api/users/me")
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")
    assert AuditEvent.dangerously_unscoped.filter(action="api_key.revoked").count() == 1


def test_expired_key_is_401_expired(org, make_key):
    _key, raw = make_key(org)
    APIKey.objects.for_org(org).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = with_key(raw).get("/api/users/me")
    assert (response.status_code, response.json()["code"]) == (401, "expired")


def test_expiry_in_the_past_is_422(org, as_member):
    admin = as_member(org, role="admin")
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = admin.post("/api/api-keys", {"name": "x", "expires_at": past}, format="json")
    assert response.status_code == 422
    assert "expires_at" in response.json()["details"]["fieldErrors"]


def test_roll_keeps_the_old_key_until_the_grace_period_ends(org, as_member, make_key):
    admin = as_member(org, role="admin")
    old, old_raw = make_key(org, membership=admin.membership, scopes=["org:read"])
    response = admin.post(f"/api/api-keys/{old.pk}/roll", {"grace_seconds": 3600}, format="json")
    assert response.status_code == 201, response.content
    new_raw = response.json()["key"]
    assert new_raw != old_raw
    assert response.json()["scopes"] == ["org:read"]
    # Inside the grace period both work.
    assert with_key(old_raw).get("/api/org").status_code == 200
    assert with_key(new_raw).get("/api/org").status_code == 200
    # Past it, only the new one.
    APIKey.objects.for_org(org).filter(pk=old.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert with_key(old_raw).get("/api/org").status_code == 401
    assert with_key(new_raw).get("/api/org").status_code == 200
    assert AuditEvent.dangerously_unscoped.filter(action="api_key.rolled").count() == 1


def test_roll_with_no_grace_ends_the_old_key_now(org, as_member, make_key):
    admin = as_member(org, role="admin")
    old, old_raw = make_key(org, membership=admin.membership)
    admin.post(f"/api/api-keys/{old.pk}/roll", {"grace_seconds": 0}, format="json")
    assert with_key(old_raw).get("/api/users/me").status_code == 401


def test_a_rolled_or_revoked_key_cannot_be_rolled(org, as_member, make_key):
    admin = as_member(org, role="admin")
    old, _ = make_key(org, membership=admin.membership)
    admin.post(f"/api/api-keys/{old.pk}/roll", {"grace_seconds": 60}, format="json")
    again = admin.post(f"/api/api-keys/{old.pk}/roll", {"grace_seconds": 60}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"


def test_effective_actions_are_scopes_intersected_with_the_current_role(org, make_key):
    creator = MembershipFactory.create(org=org, role="admin")
    _, raw = make_key(org, membership=creator, scopes=["org:read", "member:read", "owner:write"])
    me = with_key(raw).get("/api/users/me").json()
    assert me["actions"] == ["member:read", "org:read"]  # owner:write: not the admin's to give
    assert with_key(raw).get("/api/members").status_code == 200
    assert with_key(raw).patch("/api/org", {"name": "x"}, format="json").status_code == 403
    creator.role = "viewer"
    creator.save()
    assert with_key(raw).get("/api/users/me").json()["actions"] == ["org:read"]
    assert with_key(raw).get("/api/members").status_code == 403


def test_key_without_scopes_has_the_creators_whole_role(org, make_key):
    _, raw = make_key(org, role="developer")
    assert with_key(raw).get("/api/users/me").json()["actions"] == sorted(actions_for("developer"))


def test_unknown_scope_is_422(org, as_member):
    admin = as_member(org, role="admin")
    response = admin.post("/api/api-keys", {"name": "x", "scopes": ["god:mode"]}, format="json")
    assert response.status_code == 422


def test_removing_the_creator_takes_their_keys_access_with_them(org, make_key):
    creator = MembershipFactory.create(org=org, role="admin")
    _, raw = make_key(org, membership=creator)
    assert with_key(raw).get("/api/users/me").status_code == 200
    creator.delete()
    assert with_key(raw).get("/api/users/me").status_code == 401


def test_allowed_origins_refuse_other_browser_origins(org, make_key):
    _, raw = make_key(org, allowed_origins=["https://app.example.com"])
    client = with_key(raw)
    assert client.get("/api/users/me", HTTP_ORIGIN="https://app.example.com").status_code == 200
    refused = client.get("/api/users/me", HTTP_ORIGIN="https://evil.example.net")
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert client.get("/api/users/me").status_code == 200  # a server sends no Origin


def test_allowed_ips_refuse_other_addresses(org, make_key):
    _, raw = make_key(org, allowed_ips=["203.0.113.0/24", "2001:db8::1"])
    client = with_key(raw)
    assert client.get("/api/users/me", REMOTE_ADDR="203.0.113.77").status_code == 200
    assert client.get("/api/users/me", REMOTE_ADDR="2001:db8::1").status_code == 200
    assert client.get("/api/users/me", REMOTE_ADDR="198.51.100.1").status_code == 403


def test_client_ip_behind_a_trusted_proxy(org, make_key, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    _, raw = make_key(org, allowed_ips=["203.0.113.0/24"])
    client = with_key(raw)
    ok = client.get(
        "/api/users/me", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5", REMOTE_ADDR="10.0.0.1"
    )
    spoofed = client.get(
        "/api/users/me", HTTP_X_FORWARDED_FOR="203.0.113.5, 1.2.3.4", REMOTE_ADDR="10.0.0.1"
    )
    assert (ok.status_code, spoofed.status_code) == (200, 403)


def test_bad_allow_list_entries_are_422(org, as_member):
    admin = as_member(org, role="admin")
    response = admin.post(
        "/api/api-keys",
        {"name": "x", "allowed_origins": ["not a url"], "allowed_ips": ["999.1.1.1/8"]},
        format="json",
    )
    assert response.status_code == 422
    assert set(response.json()["details"]["fieldErrors"]) == {"allowed_origins", "allowed_ips"}


def test_patch_changes_name_and_allow_lists_with_audit(org, as_member, make_key):
    admin = as_member(org, role="admin")
    key, _ = make_key(org)
    response = admin.patch(
        f"/api/api-keys/{key.pk}", {"name": "renamed", "allowed_ips": ["10.0.0.0/8"]}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["allowed_ips"]) == ("renamed", ["10.0.0.0/8"])
    event = AuditEvent.dangerously_unscoped.get(action="api_key.updated")
    assert event.metadata["after"] == {"name": "renamed", "allowed_ips": ["10.0.0.0/8"]}


def test_developers_see_and_revoke_only_their_own_keys(org, as_member, make_key):
    developer = as_member(org, role="developer")
    mine, _ = make_key(org, membership=developer.membership)
    theirs, _ = make_key(org, role="admin")
    listed = developer.get("/api/api-keys").json()["data"]
    assert [k["id"] for k in listed] == [mine.pk]
    assert developer.delete(f"/api/api-keys/{theirs.pk}").status_code == 404
    assert developer.delete(f"/api/api-keys/{mine.pk}").status_code == 204


def test_list_filters_by_status(org, as_member, make_key):
    admin = as_member(org, role="admin")
    live, _ = make_key(org)
    dead, _ = make_key(org)
    admin.delete(f"/api/api-keys/{dead.pk}")

    def ids(status):
        return [k["id"] for k in admin.get(f"/api/api-keys?status={status}").json()["data"]]

    assert ids("active") == [live.pk]
    assert ids("revoked") == [dead.pk]
    assert admin.get("/api/api-keys?status=bogus").status_code == 422


def test_members_cannot_create_keys(org, as_member):
    response = as_member(org, role="member").post("/api/api-keys", {"name": "x"}, format="json")
    assert response.status_code == 403


def test_last_used_is_written_at_most_once_a_minute(org, make_key):
    from django.core.cache import cache

    key, raw = make_key(org)
    client = with_key(raw)
    client.get("/api/users/me", REMOTE_ADDR="203.0.113.9")
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    assert key.last_used_ip == "203.0.113.9"
    client.get("/api/users/me", REMOTE_ADDR="203.0.113.10")
    key.refresh_from_db()
    assert (key.last_used_at, key.last_used_ip) == (first, "203.0.113.9")
    cache.delete(f"apikey-used:{key.pk}")  # the minute has passed ...
    use_throttle.clear()  # ... for this process too
    client.get("/api/users/me", REMOTE_ADDR="203.0.113.10")
    key.refresh_from_db()
    assert key.last_used_ip == "203.0.113.10"


def test_only_the_first_use_of_a_minute_asks_redis(org, make_key, monkeypatch):
    from django.core.cache import cache

    _, raw = make_key(org)
    client = with_key(raw)
    asked = []
    real_add = cache.add

    def add(key, *args, **kwargs):
        asked.append(key)
        return real_add(key, *args, **kwargs)

    monkeypatch.setattr(cache, "add", add)
    for _ in range(3):
        assert client.get("/api/users/me").status_code == 200
    assert len([k for k in asked if k.startswith("apikey-used:")]) == 1


def test_another_process_having_marked_the_key_means_no_write(org, make_key):
    from django.core.cache import cache

    key, raw = make_key(org)
    cache.add(f"apikey-used:{key.pk}", 1, timeout=60)  # another worker won this minute
    assert with_key(raw).get("/api/users/me").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is None


def test_a_key_in_use_fails_on_the_request_after_its_revocation(org, as_member, make_key):
    key, raw = make_key(org)
    client = with_key(raw)
    assert client.get("/api/users/me").status_code == 200  # the use throttle now knows it
    admin = as_member(org, role="admin")
    assert admin.delete(f"/api/api-keys/{key.pk}").status_code == 204
    assert client.get("/api/users/me").status_code == 401


@pytest.mark.parametrize("change", ["suspend", "deactivate", "remove"])
def test_a_key_in_use_fails_once_its_creator_cannot_act(org, make_key, change):
    creator = MembershipFactory.create(org=org, role="admin")
    _, raw = make_key(org, membership=creator)
    client = with_key(raw)
    assert client.get("/api/users/me").status_code == 200
    if change == "suspend":
        creator.status = "suspended"
        creator.save()
    elif change == "deactivate":
        creator.user.is_active = False
        creator.user.save()
    else:
        creator.delete()
    assert client.get("/api/users/me").status_code == 401


@pytest.mark.parametrize("prepared", [True, False])
def test_me_with_an_api_key_makes_one_query_prepared_or_not(
    org, make_key, settings, max_data_queries, prepared
):
    settings.DATABASE_PREPARED_LOOKUPS = prepared
    _, raw = make_key(org, role="developer")
    client = with_key(raw)
    client.get("/api/users/me")  # first use of the minute writes last_used_at
    # One statement (plus the request's transaction: BEGIN/COMMIT, not counted).
    with max_data_queries(1):
        body = client.get("/api/users/me").json()
    assert (body["role"], body["org"]["id"], body["credential"]) == ("developer", org.pk, "api_key")


def test_me_with_an_api_key_makes_one_query_in_steady_state(org, make_key, max_data_queries):
    _, raw = make_key(org)
    client = with_key(raw)
    client.get("/api/users/me")  # first use of the minute writes last_used_at
    # One statement (plus the request's transaction: BEGIN/COMMIT, not counted).
    with max_data_queries(1):
        assert client.get("/api/users/me").status_code == 200


def test_a_scoped_key_cannot_mint_a_wider_key(org, make_key):
    _, narrow = make_key(org, role="admin", scopes=["api_key:write", "api_key:read"])
    client = with_key(narrow)
    assert client.get("/api/members").status_code == 403
    created = client.post("/api/api-keys", {"name": "wide"}, format="json").json()
    assert created["scopes"] == ["api_key:read", "api_key:write"]
    asked_more = client.post(
        "/api/api-keys", {"name": "wider", "scopes": ["member:read", "api_key:read"]}, format="json"
    ).json()
    assert asked_more["scopes"] == ["api_key:read"]
    assert with_key(created["key"]).get("/api/members").status_code == 403


def test_a_scoped_key_cannot_roll_into_a_wider_key(org, make_key):
    creator = MembershipFactory.create(org=org, role="admin")
    target, _ = make_key(org, membership=creator)  # unscoped: the admin's whole role
    _, narrow = make_key(org, membership=creator, scopes=["api_key:write"])
    rolled = with_key(narrow).post(f"/api/api-keys/{target.pk}/roll", {}, format="json").json()
    assert rolled["scopes"] == ["api_key:write"]


def test_only_the_creator_can_roll_a_key(org, as_member, make_key):
    owner = as_member(org, role="owner")
    key, _ = make_key(org, membership=owner.membership)
    admin = as_member(org, role="admin")  # may revoke anyone's key, but not take it over
    response = admin.post(f"/api/api-keys/{key.pk}/roll", {"grace_seconds": 0}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert "key" not in response.json()
    rolled = owner.post(f"/api/api-keys/{key.pk}/roll", {}, format="json").json()
    me = with_key(rolled["key"]).get("/api/users/me").json()
    assert (me["id"], me["role"]) == (owner.membership.user_id, "owner")
    assert admin.delete(f"/api/api-keys/{rolled['id']}").status_code == 204


def test_an_owners_scoped_key_cannot_make_owners(org, make_key):
    owner = MembershipFactory.create(org=org, role="owner")
    member = MembershipFactory.create(org=org, role="member")
    _, raw = make_key(org, membership=owner, scopes=["member:write", "member:read"])
    response = with_key(raw).patch(f"/api/members/{member.pk}", {"role": "owner"}, format="json")
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.role == "member"
    invite = with_key(raw).post(
        "/api/invitations", {"email": "boss@example.test", "role": "owner"}, format="json"
    )
    assert invite.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/orgs"),
        ("post", "/api/orgs"),
        ("post", "/api/auth/logout"),
        ("post", "/api/auth/logout-all"),
        ("post", "/api/users/me/password"),
    ],
)
def test_a_key_cannot_reach_the_users_own_cross_org_endpoints(
    org, other_org, make_key, method, path
):
    creator = MembershipFactory.create(org=org, role="owner")
    MembershipFactory.create(org=other_org, user=creator.user, role="owner")
    _, raw = make_key(org, membership=creator)
    response = getattr(with_key(raw), method)(path, {"slug": "x-co", "name": "X"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert other_org.slug not in response.content.decode()


def test_writes_made_with_a_key_are_audited_as_that_key(org, make_key):
    creator = MembershipFactory.create(org=org, role="admin")
    key, raw = make_key(org, membership=creator)
    with_key(raw).patch("/api/org", {"name": "Via key"}, format="json")
    event = AuditEvent.dangerously_unscoped.get(action="org.updated")
    assert (event.actor_type, event.actor_id) == ("api_key", str(key.pk))
    assert creator.user.email in event.actor_label
