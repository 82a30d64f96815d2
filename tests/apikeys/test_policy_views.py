"""Settings > API Keys > Policy in the portal: owners set it, admins read it, the keys
outside it are listed and flagged, and the create form names the rule that refused."""

import pytest

from apikeys.models import APIKeyPolicy
from apikeys.services import api_key_create
from audit.actors import Actor

pytestmark = pytest.mark.django_db


def test_admins_read_the_policy_page_and_owners_change_it(org, portal_member):
    admin = portal_member(org, role="admin")
    page = admin.get("/settings/api-keys/policy/")
    assert page.status_code == 200
    assert "Owners change the policy; you can read it" in page.content.decode()
    assert admin.post("/settings/api-keys/policy/", {"max_lifetime_days": "30"}).status_code == 403
    assert not APIKeyPolicy.objects.for_org(org).exists()
    assert portal_member(org, role="developer").get("/settings/api-keys/policy/").status_code == 403

    owner = portal_member(org, role="owner")
    old = api_key_create(org=org, actor=Actor.system(), creator=owner.membership, name="Old CI")[0]
    response = owner.post(
        "/settings/api-keys/policy/",
        {
            "max_lifetime_days": "30",
            "env_developer": ["test"],
            # Ticked boxes as the form shows them; both ticked means no rule for the role.
            **{f"env_{r}": ["live", "test"] for r in ("owner", "admin", "member", "viewer")},
        },
        follow=True,
    )
    text = response.content.decode()
    assert "1 active key(s) are outside it" in text
    assert "Old CI" in text  # listed under the form, with its rule
    policy = APIKeyPolicy.objects.for_org(org).get()
    assert policy.max_lifetime_days == 30
    assert policy.allowed_environments == {"developer": ["test"]}  # both ticked: no rule
    listing = owner.get("/settings/api-keys/").content.decode()
    assert "outside the organization's API-key policy" in listing
    assert ">max_lifetime</span>" in listing
    assert old.prefix in listing
    bad = owner.post("/settings/api-keys/policy/", {"revoke_unused_after_days": "3"})
    assert bad.status_code == 422
    assert "revoke_unused_after_days" in bad.context["form"].errors


def test_the_create_form_names_the_rule_that_refused(org, portal_member):
    from apikeys.services import api_key_policy_set

    api_key_policy_set(
        org=org, actor=Actor.system(), by=None, changes={"require_ip_allowlist_for_live": True}
    )
    developer = portal_member(org, role="developer")
    page = developer.get("/settings/api-keys/new/").content.decode()
    assert "live keys need an IP allow-list" in page
    refused = developer.post("/settings/api-keys/new/", {"name": "ci", "env": "live"})
    assert refused.status_code == 422
    assert "policy rule live_ip_allowlist" in refused.content.decode()
    fenced = developer.post(
        "/settings/api-keys/new/", {"name": "ci", "env": "live", "allowed_ips": "203.0.113.7"}
    )
    assert fenced.status_code == 302


def test_a_roll_in_the_portal_names_the_rule_and_takes_a_new_expiry(org, portal_member):
    from datetime import timedelta

    from django.utils import timezone

    from apikeys.services import api_key_policy_set

    developer = portal_member(org, role="developer")
    old = api_key_create(
        org=org, actor=Actor.system(), creator=developer.membership, name="Forever"
    )[0]
    api_key_policy_set(org=org, actor=Actor.system(), by=None, changes={"max_lifetime_days": 30})
    path = f"/settings/api-keys/{old.pk}/roll/"
    refused = developer.post(path, {"grace_seconds": "3600"})
    assert refused.status_code == 422
    assert "policy rule max_lifetime" in refused.content.decode()
    day = (timezone.now() + timedelta(days=10)).date().isoformat()
    assert developer.post(path, {"grace_seconds": "3600", "expires_at": day}).status_code == 302
