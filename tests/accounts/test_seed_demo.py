"""`manage.py seed_demo`: the local run's demo org, its five members and a staff user."""

import io

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.management.commands.seed_demo import DEMO_PASSWORD, STAFF_EMAIL
from accounts.models import User
from orgs.models import Membership, Organization

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_the_org_its_members_and_a_staff_user_once(settings):
    settings.DEBUG = True  # what `make run` sets
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=io.StringIO())  # safe to run again
    org = Organization.objects.get(slug="acme")
    roles = sorted(Membership.objects.for_org(org).values_list("role", flat=True))
    assert roles == ["admin", "developer", "member", "owner", "viewer"]
    staff = User.objects.get(email=STAFF_EMAIL)
    assert (staff.is_staff, staff.is_superuser) == (True, True)
    assert not Membership.dangerously_unscoped.filter(user=staff).exists()
    assert STAFF_EMAIL in out.getvalue()
    assert "printed on this console" in out.getvalue()


def test_the_staff_user_signs_in_to_the_django_admin(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    client = Client()
    assert client.login(username=STAFF_EMAIL, password=DEMO_PASSWORD)
    assert client.get("/admin/").status_code == 200
