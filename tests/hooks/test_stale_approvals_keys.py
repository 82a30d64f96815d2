"""What changes while a pre-write hook decides (API keys): the write re-reads under its lock
and refuses what the hook did not approve, never writing on stale rows nor answering a 500.

The hook is faked in-process (the ``deciding`` fixture, tests/hooks/conftest.py): it makes
the concurrent change while "deciding", then approves; the services' own transactions then
see that change, as they would see another request's commit."""

import pytest

from apikeys.models import APIKey
from apikeys.services import api_key_create, api_key_update
from audit.actors import Actor
from orgs.models import Membership
from tests.hooks.conftest import ERROR_KEYS, post_json, set_role

pytestmark = pytest.mark.django_db


def test_a_key_creator_removed_while_the_hook_decides_is_403_not_500(org, as_member, deciding):
    developer = as_member(org, role="developer")
    deciding(lambda: Membership.objects.for_org(org).filter(pk=developer.membership.pk).delete())
    response = post_json(developer, "/api/api-keys", {"name": "ci"})
    assert response.status_code == 403, response.content
    assert set(response.json()) == ERROR_KEYS
    assert not APIKey.objects.for_org(org).exists()


def test_a_key_creator_whose_role_changed_while_the_hook_decides_is_409(org, as_member, deciding):
    developer = as_member(org, role="developer")
    shown = deciding(lambda: set_role(developer.membership, "viewer"))
    response = post_json(developer, "/api/api-keys", {"name": "ci"})
    assert response.status_code == 409, response.content
    assert shown[0][1]["creator"]["role"] == "developer"
    assert not APIKey.objects.for_org(org).exists()


# 2. The key a roll copies


def test_a_key_updated_while_its_roll_is_approved_is_409(org, as_member, deciding):
    developer = as_member(org, role="developer")
    key, _ = api_key_create(org=org, actor=Actor.system(), creator=developer.membership, name="k")
    shown = deciding(
        lambda: api_key_update(org=org, actor=Actor.system(), key=key, allowed_ips=["203.0.113.7"])
    )
    response = post_json(developer, f"/api/api-keys/{key.pk}/roll", {"grace_seconds": 60})
    assert response.status_code == 409, response.content
    assert set(response.json()) == ERROR_KEYS
    assert shown[0][1]["allowed_ips"] == []
    assert APIKey.objects.for_org(org).count() == 1
    key.refresh_from_db()
    assert key.replaced_by_id is None


def test_an_unchanged_key_still_rolls(org, as_member, deciding):
    developer = as_member(org, role="developer")
    key, _ = api_key_create(org=org, actor=Actor.system(), creator=developer.membership, name="k")
    deciding(lambda: None)
    response = post_json(developer, f"/api/api-keys/{key.pk}/roll", {"grace_seconds": 60})
    assert response.status_code in (200, 201), response.content


def test_the_portal_says_a_creator_removed_while_the_hook_decides_has_no_key(
    org, portal_member, deciding
):
    developer = portal_member(org, role="developer")
    membership = Membership.objects.for_org(org).get(user=developer.session["_auth_user_id"])
    deciding(lambda: Membership.objects.for_org(org).filter(pk=membership.pk).delete())
    response = developer.post("/settings/api-keys/new/", {"name": "ci", "env": "test"})
    assert response.status_code == 422
    assert "Your membership ended" in response.content.decode()
    assert not APIKey.objects.for_org(org).exists()
