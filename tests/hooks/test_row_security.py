"""Pre-write hooks under row-level security, as the servers run: connected as the application
role (NOBYPASSRLS, owns nothing: ``tenancy.rls``), each transaction begun and committed for
real.

The rest of the suite connects as the owner, a superuser that bypasses row-level security,
and runs inside the test case's transaction, where an org named by one request's savepoint
outlives it: there, a hook read outside any org transaction would still be found. Here
(``transaction=True``: no wrapping transaction) the connection is switched to the
application role for the requests, so a hook read or a call recorded outside the org's
transaction would see no hook and record nothing, and the write would go through unasked.
``tests/ops/test_stack.py`` repeats the key case against gunicorn.
"""

import json
from contextlib import contextmanager

import pytest
from django.db import connection

from audit.models import AuditEvent
from tests.factories import MembershipFactory
from tests.harness.postgres import APP_ROLE
from tests.hooks.conftest import ALLOW, deny, make_hook
from tests.hooks.test_consult import REASON, WRITES, _call, _prepare, _rows

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def connected_as_the_app_role():
    """The test's connection, for the block, in the role the servers connect as. ``SET
    ROLE`` (session-wide): every transaction the requests open is subject to the policy."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {APP_ROLE}")
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == APP_ROLE
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")  # (the fixtures' teardown runs as the owner again)


@pytest.fixture
def owner(org, as_member):
    return as_member(org, role="owner")


def _audited(org, action):
    return list(AuditEvent.dangerously_unscoped.filter(org_id=org.pk, action=action))


@pytest.mark.parametrize("action", WRITES)
def test_as_the_app_role_a_denying_hook_refuses_the_write_and_the_denial_is_audited(
    action, org, owner, hook_receiver
):
    receiver = hook_receiver(deny(REASON))
    hook = make_hook(org, receiver.url, actions=[action])
    method, path, body, audited = _prepare(org, owner, action)
    rows = _rows()

    with connected_as_the_app_role():
        response = _call(owner, method, path, body)

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "hook_denied"
    assert response.json()["details"]["reason"] == REASON
    assert len(receiver.requests) == 1  # the hook was found, and asked
    assert _rows() == rows
    [denied] = _audited(org, "hook.denied")
    assert denied.target_id == str(hook.pk)
    assert denied.metadata["action"] == action
    assert _audited(org, audited) == []


@pytest.mark.parametrize("action", WRITES)
def test_as_the_app_role_an_allowing_hook_lets_the_write_through(action, org, owner, hook_receiver):
    receiver = hook_receiver(ALLOW)
    make_hook(org, receiver.url, actions=[action])
    method, path, body, audited = _prepare(org, owner, action)

    with connected_as_the_app_role():
        response = _call(owner, method, path, body)

    assert response.status_code in (200, 201), response.content
    assert len(receiver.requests) == 1
    assert json.loads(receiver.requests[0].body)["data"]["action"] == action
    assert len(_audited(org, audited)) == 1
    assert _audited(org, "hook.denied") == []


def test_as_the_app_role_the_portal_shows_the_hooks_reason_and_writes_nothing(
    org, portal_member, hook_receiver
):
    client = portal_member(org, role="owner")
    receiver = hook_receiver(deny(REASON))
    make_hook(org, receiver.url, actions=["api_key.create"])
    rows = _rows()

    with connected_as_the_app_role():
        response = client.post("/settings/api-keys/new/", {"name": "ci", "env": "live"})

    assert response.status_code == 422
    assert REASON in response.content.decode()
    assert len(receiver.requests) == 1
    assert _rows() == rows
    assert len(_audited(org, "hook.denied")) == 1


def test_as_the_app_role_the_portal_writes_what_the_hook_allows(org, portal_member, hook_receiver):
    client = portal_member(org, role="owner")
    receiver = hook_receiver(ALLOW)
    make_hook(org, receiver.url, actions=["member.invite"])

    with connected_as_the_app_role():
        response = client.post(
            "/settings/members/", {"email": "new@example.test", "role": "member"}
        )

    assert response.status_code == 302, response.content.decode()[:500]
    assert len(receiver.requests) == 1
    assert len(_audited(org, "invitation.created")) == 1


def test_as_the_app_role_a_test_call_is_recorded(org, owner, hook_receiver):
    hook = make_hook(org, hook_receiver(ALLOW).url, actions=["api_key.create"])

    with connected_as_the_app_role():
        response = owner.post(f"/api/hooks/{hook.pk}/test")

    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "allowed"
    assert len(_audited(org, "hook.tested")) == 1


def test_as_the_app_role_an_invitation_that_would_conflict_asks_no_hook(org, owner, hook_receiver):
    """The checks made before a hook is asked read the org's rows too (in the org's own
    transaction): a conflict is found there, not only later in the write's."""
    receiver = hook_receiver(ALLOW)
    make_hook(org, receiver.url, actions=["member.invite"])
    member = MembershipFactory.create(org=org, role="member")

    with connected_as_the_app_role():
        response = _call(
            owner, "POST", "/api/invitations", {"email": member.user.email, "role": "member"}
        )

    assert response.status_code == 409, response.content
    assert receiver.requests == []
