"""Limits on what costs others something: email sent, orgs made, passwords guessed."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from orgs.models import Invitation
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def invite(client, n):
    return client.post(
        "/api/invitations", {"email": f"guest{n}@example.test", "role": "member"}, format="json"
    ).status_code


def test_invitations_are_limited_per_inviter(org, as_member, settings):
    settings.INVITATION_RATE_INVITER = "2/h"
    alice, bob = as_member(org, role="admin"), as_member(org, role="admin")
    assert [invite(alice, n) for n in range(3)] == [201, 201, 429]
    assert invite(bob, 9) == 201  # another inviter has their own bucket
    assert Invitation.objects.for_org(org).count() == 3


def test_invitations_are_limited_per_org(org, other_org, as_member, settings):
    settings.INVITATION_RATE_ORG = "2/h"
    admins = [as_member(org, role="admin") for _ in range(3)]
    assert [invite(a, n) for n, a in enumerate(admins)] == [201, 201, 429]
    assert invite(as_member(other_org, role="admin"), 7) == 201
    refused = admins[0].post(
        "/api/invitations", {"email": "late@example.test", "role": "member"}, format="json"
    )
    assert refused.json()["code"] == "rate_limited"
    assert refused["RateLimit"].startswith('"invitations-org";r=0;')
    assert int(refused["Retry-After"]) <= 3600


def test_organizations_created_per_person_per_day(org, as_member, settings):
    settings.ORG_CREATE_RATE = "2/d"
    owner = as_member(org, role="owner")
    statuses = [
        owner.post("/api/orgs", {"slug": f"new-{n}", "name": "New"}, format="json").status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]


def admin_login(client, username, address="198.51.100.40"):
    return client.post(
        "/admin/login/", {"username": username, "password": "wrong"}, REMOTE_ADDR=address
    ).status_code


def test_admin_login_is_limited_per_address(settings):
    settings.ADMIN_LOGIN_RATE_IP = "2/m"
    client = Client()
    assert [admin_login(client, f"u{n}@example.test") for n in range(3)] == [200, 200, 429]
    assert admin_login(client, "u9@example.test", address="198.51.100.41") == 200
    assert client.get("/admin/login/", REMOTE_ADDR="198.51.100.40").status_code == 200  # form


def test_admin_login_is_limited_per_username_in_any_spelling(settings):
    settings.ADMIN_LOGIN_RATE_USERNAME = "2/h"
    client = Client()
    spellings = ["admin@example.test", "ADMIN@example.test", "adm\u0131n@example.test"]
    statuses = [admin_login(client, s, address=f"198.51.100.{n}") for n, s in enumerate(spellings)]
    assert statuses == [200, 200, 429]


def test_a_staff_member_can_still_sign_in_to_the_admin(settings):
    UserFactory.create(email="staff@example.test", is_staff=True, is_superuser=True)
    response = Client().post(
        "/admin/login/?next=/admin/", {"username": "staff@example.test", "password": PASSWORD}
    )
    assert (response.status_code, response["Location"]) == (302, "/admin/")


def api_login(email, org, address):
    return APIClient(REMOTE_ADDR=address).post(
        "/api/auth/login",
        {"email": email, "password": "wrong", "org_slug": org.slug},
        format="json",
    )


def test_login_spellings_of_one_email_share_its_bucket(org, settings):
    """The user lookup (email__iexact: SQL UPPER) finds admin@ for adm\\u0131n@ and ADMIN@, so
    they must not be fresh buckets for guessing admin@'s password. No account exists here,
    so the email bucket alone is tested (the per-account one is below)."""
    settings.LOGIN_RATE = "3/d"
    spellings = ["admin@example.test", "ADMIN@example.test", "adm\u0131n@example.test"]
    answers = [api_login(s, org, f"203.0.113.{n}").status_code for n, s in enumerate(spellings)]
    refused = api_login("Admin@Example.test", org, "203.0.113.9")
    assert answers == [401, 401, 401]
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")


def test_login_is_then_limited_per_account(org, settings, monkeypatch):
    """A spelling normalisation keeps apart but the lookup joins still lands in the
    account's bucket."""
    import orgs.ratelimits

    settings.LOGIN_RATE = "2/d"
    MembershipFactory.create(org=org, user=UserFactory.create(email="dev@example.test"))
    # Pretend normalisation misses every spelling: each one gets its own email bucket.
    monkeypatch.setattr(orgs.ratelimits, "email_bucket_value", lambda email: email)
    spellings = ["dev@example.test", "DEV@example.test", "Dev@example.test"]
    answers = [api_login(s, org, f"203.0.113.{n}") for n, s in enumerate(spellings)]
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert answers[-1]["RateLimit"].startswith('"login-account";r=0;')


def test_portal_login_shares_the_email_bucket_of_the_api_login(org, settings):
    settings.LOGIN_RATE = "3/d"
    api_login("admin@example.test", org, "203.0.113.50")
    api_login("ADMIN@example.test", org, "203.0.113.51")
    portal = Client(REMOTE_ADDR="203.0.113.52")
    first = portal.post("/login/", {"email": "adm\u0131n@example.test", "password": "wrong"})
    second = portal.post("/login/", {"email": "Admin@example.test", "password": "wrong"})
    assert (first.status_code, second.status_code) == (400, 429)
