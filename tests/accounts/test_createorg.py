import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from audit.models import AuditEvent
from orgs.models import Membership, Organization
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_password(monkeypatch):
    monkeypatch.setenv("TENANTRY_OWNER_PASSWORD", "a-long-enough-pass-phrase")
    return "a-long-enough-pass-phrase"


def test_creates_org_owner_and_audit_rows(owner_password, capsys):
    call_command("createorg", "acme", "--name", "Acme Corp", "--owner-email", "Boss@Acme.test")
    org = Organization.objects.get(slug="acme")
    user = User.objects.get(email="boss@acme.test")
    assert user.check_password(owner_password)
    assert Membership.objects.for_org(org).get().user == user
    actions = set(AuditEvent.dangerously_unscoped.values_list("action", flat=True))
    assert actions == {"user.created", "org.created"}
    assert owner_password not in str(
        list(AuditEvent.dangerously_unscoped.values_list("metadata", flat=True))
    )
    assert "Created organization 'acme'" in capsys.readouterr().out


def test_existing_user_becomes_owner_without_a_new_account(owner_password):
    existing = UserFactory.create(email="boss@acme.test")
    call_command("createorg", "acme", "--name", "Acme", "--owner-email", "BOSS@acme.test")
    assert User.objects.count() == 1
    assert Membership.dangerously_unscoped.get().user == existing


def test_duplicate_slug_fails_and_creates_nothing(owner_password, org):
    with pytest.raises(CommandError, match="slug"):
        call_command("createorg", org.slug, "--name", "X", "--owner-email", "new@acme.test")
    assert not User.objects.filter(email="new@acme.test").exists()
    assert Organization.objects.count() == 1
    assert not AuditEvent.dangerously_unscoped.exists()


def test_bad_email_fails_and_creates_nothing(owner_password):
    with pytest.raises(CommandError, match="email"):
        call_command("createorg", "acme", "--name", "Acme", "--owner-email", "not-an-email")
    assert not Organization.objects.exists()
    assert not User.objects.exists()


def test_weak_password_fails_and_creates_nothing(monkeypatch):
    monkeypatch.setenv("TENANTRY_OWNER_PASSWORD", "123")
    with pytest.raises(CommandError, match="password"):
        call_command("createorg", "acme", "--name", "Acme", "--owner-email", "boss@acme.test")
    assert not Organization.objects.exists()


def test_no_password_and_no_terminal_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TENANTRY_OWNER_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="TENANTRY_OWNER_PASSWORD"):
        call_command("createorg", "acme", "--name", "Acme", "--owner-email", "boss@acme.test")
    assert not Organization.objects.exists()


def test_nonzero_exit_from_the_real_command_line(subprocess_env):
    env = {**subprocess_env, "TENANTRY_OWNER_PASSWORD": "a-long-enough-pass-phrase"}
    result = subprocess.run(
        [sys.executable, "manage.py", "createorg", "x y", "--name", "N", "--owner-email", "a@b.co"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "slug" in result.stderr
    assert "Traceback" not in result.stderr
