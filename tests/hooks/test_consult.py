"""Pre-write hooks at work: before an invitation, a role change, a key's creation or roll,
a real HTTP server on 127.0.0.1 is asked, and its answer (or its silence) decides.

Each write is driven through the API (and the portal) as a person would; what the hook
received is verified with a Standard Webhooks receiver written from the spec
(``tests.audit.webhooks.receiver``), never with the signing code under test."""

import json
import time

import psycopg
import pytest
from django.apps import apps
from django.db import connection, transaction

from apikeys.models import APIKey
from apikeys.services import api_key_create
from audit.actors import Actor
from audit.models import AuditEvent
from hooks.services import HookConsultedInsideATransaction, hooks_consult
from tests.audit.webhooks.receiver import verify_standard_webhook
from tests.factories import MembershipFactory
from tests.hooks.conftest import ALLOW, deny, make_hook

pytestmark = pytest.mark.django_db

REASON = "Keys for production need a ticket number in their name"
# A hook that answers this late (seconds) is past any PRE_WRITE_HOOK_TIMEOUT_SECONDS here
# (0.5); a write that waited for it would take this long, however loaded the machine.
SLOW = 5.0


def _invite(org, client):
    return "POST", "/api/invitations", {"email": "new@example.test", "role": "member"}


def _role_change(org, client):
    target = MembershipFactory.create(org=org, role="member")
    return "PATCH", f"/api/members/{target.pk}", {"role": "viewer"}


def _key_create(org, client):
    return "POST", "/api/api-keys", {"name": "ci"}


def _key_roll(org, client):
    key, _ = api_key_create(org=org, actor=Actor.system(), creator=client.membership, name="k")
    return "POST", f"/api/api-keys/{key.pk}/roll", {"grace_seconds": 60}


# hookable action -> (the API call that makes that write, the audit action it records)
WRITES = {
    "member.invite": (_invite, "invitation.created"),
    "member.role_change": (_role_change, "member.role_changed"),
    "api_key.create": (_key_create, "api_key.created"),
    "api_key.roll": (_key_roll, "api_key.rolled"),
}


def _rows():
    """Every row of the apps whose writes are hooked (and of hooks), to prove none moved."""
    snapshot = {}
    for app in ("orgs", "apikeys", "hooks"):
        for model in apps.get_app_config(app).get_models():
            snapshot[model._meta.label] = list(model._base_manager.order_by("pk").values())
    return snapshot


def _call(client, method, path, body):
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def owner(org, as_member):
    return as_member(org, role="owner")


def _prepare(org, client, action):
    """The write's call, built before counting (its own setup writes and audits)."""
    make_call, audited = WRITES[action]
    method, path, body = make_call(org, client)
    return method, path, body, audited


def _events_since(before):
    return list(AuditEvent.dangerously_unscoped.order_by("id")[before:])


# --- Allow -------------------------------------------------------------------------------


@pytest.mark.parametrize("action", WRITES)
def test_an_allowing_hook_lets_the_write_through_signed_and_audited_as_before(
    action, org, owner, hook_receiver
):
    receiver = hook_receiver(ALLOW)
    hook = make_hook(org, receiver.url, actions=[action])
    method, path, body, audited = _prepare(org, owner, action)
    before = AuditEvent.dangerously_unscoped.count()

    response = _call(owner, method, path, body)

    assert response.status_code in (200, 201), response.content
    assert [e.action for e in _events_since(before)] == [audited]
    [request] = receiver.requests
    assert verify_standard_webhook(secret=hook.secret, headers=request.headers, body=request.body)
    sent = json.loads(request.body)
    assert sent["type"] == "hook.pre_write"
    assert sent["data"]["action"] == action
    assert sent["data"]["test"] is False
    assert sent["data"]["org"] == {"id": org.pk, "slug": org.slug}
    assert sent["data"]["actor"]["id"] == str(owner.membership.user_id)
    assert sent["data"]["context"]["request_id"] == response["X-Request-ID"]
    assert hook.secret not in request.body.decode()


def test_the_hook_sees_the_proposed_key_and_never_a_secret(org, owner, hook_receiver):
    receiver = hook_receiver(ALLOW)
    make_hook(org, receiver.url, actions=["api_key.create"])
    response = _call(
        owner,
        "POST",
        "/api/api-keys",
        {"name": "deploy", "env": "test", "scopes": ["org:read"], "allowed_ips": ["10.0.0.0/8"]},
    )
    assert response.status_code == 201
    proposed = json.loads(receiver.requests[0].body)["data"]["object"]
    assert proposed == {
        "name": "deploy",
        "env": "test",
        "scopes": ["org:read"],
        "allowed_origins": [],
        "allowed_ips": ["10.0.0.0/8"],
        "expires_at": None,
        "rate_limit": "",
        "creator": {
            "membership_id": owner.membership.pk,
            "user_id": owner.membership.user_id,
            "role": "owner",
        },
    }
    assert response.json()["key"] not in receiver.requests[0].body.decode()


def test_the_signature_is_the_standard_webhooks_one_and_a_tampered_call_fails_it(
    org, owner, hook_receiver
):
    receiver = hook_receiver(ALLOW)
    hook = make_hook(org, receiver.url, actions=["member.invite"])
    _call(owner, *_invite(org, owner))
    [request] = receiver.requests
    headers = request.headers
    assert headers["webhook-id"].startswith("msg_")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["webhook-signature"].startswith("v1,")
    assert verify_standard_webhook(secret=hook.secret, headers=headers, body=request.body)
    forged = request.body.replace(b'"role":"member"', b'"role":"owner"')
    assert forged != request.body
    assert not verify_standard_webhook(secret=hook.secret, headers=headers, body=forged)


# --- Deny --------------------------------------------------------------------------------


@pytest.mark.parametrize("action", WRITES)
def test_a_denying_hook_stops_the_write_and_only_the_denial_is_audited(
    action, org, owner, hook_receiver
):
    receiver = hook_receiver(deny(REASON))
    hook = make_hook(org, receiver.url, actions=[action])
    method, path, body, _ = _prepare(org, owner, action)
    rows = _rows()
    before = AuditEvent.dangerously_unscoped.count()

    response = _call(owner, method, path, body)

    assert response.status_code == 403, response.content
    answer = response.json()
    assert answer["code"] == "hook_denied"
    assert REASON in answer["error"]
    assert answer["details"] == {"reason": REASON, "action": action, "outcome": "denied"}
    assert _rows() == rows  # nothing written
    [event] = _events_since(before)
    assert event.action == "hook.denied"
    assert event.target_id == str(hook.pk)
    assert event.actor_id == str(owner.membership.user_id)
    assert event.request_id == response["X-Request-ID"]
    assert event.metadata["reason"] == REASON
    assert event.metadata["action"] == action
    assert event.metadata["outcome"] == "denied"
    assert hook.secret not in json.dumps(event.metadata)
    assert len(receiver.requests) == 1


def test_a_denial_without_a_reason_still_says_so(org, owner, hook_receiver):
    receiver = hook_receiver(json.dumps({"allow": False}).encode())
    make_hook(org, receiver.url, actions=["api_key.create"])
    response = _call(owner, *_key_create(org, owner))
    assert response.status_code == 403
    assert response.json()["details"]["reason"] == "no reason given"


def test_the_hooks_reason_is_cut_to_one_bounded_line(org, owner, hook_receiver):
    receiver = hook_receiver(deny("line one\nline two\x00" + "x" * 1000))
    make_hook(org, receiver.url, actions=["api_key.create"])
    reason = _call(owner, *_key_create(org, owner)).json()["details"]["reason"]
    assert reason.startswith("line one line two ")
    assert len(reason) == 300
    assert "\n" not in reason
    assert "\x00" not in reason


# --- The portal shows the reason where it shows any refusal ------------------------------


def _assert_refused_on_the_form(client, path, data):
    """The form answers 422 with the hook's reason on it, and nothing is written."""
    rows = _rows()
    response = client.post(path, data)
    assert response.status_code == 422
    assert REASON in response.content.decode()
    assert _rows() == rows


def test_the_portal_shows_the_reason_on_the_invite_form(org, portal_member, hook_receiver):
    make_hook(org, hook_receiver(deny(REASON)).url, actions=["member.invite"])
    client = portal_member(org, role="owner")
    _assert_refused_on_the_form(
        client, "/settings/members/", {"email": "new@example.test", "role": "member"}
    )


def test_the_portal_shows_the_reason_on_the_new_key_form(org, portal_member, hook_receiver):
    make_hook(org, hook_receiver(deny(REASON)).url, actions=["api_key.create"])
    client = portal_member(org, role="owner")
    _assert_refused_on_the_form(client, "/settings/api-keys/new/", {"name": "ci", "env": "live"})


def test_the_portal_shows_the_reason_on_the_roll_form(org, portal_member, hook_receiver):
    make_hook(org, hook_receiver(deny(REASON)).url, actions=["api_key.roll"])
    client = portal_member(org, role="owner")
    key, _ = api_key_create(org=org, actor=Actor.system(), creator=client.membership, name="k")
    _assert_refused_on_the_form(
        client, f"/settings/api-keys/{key.pk}/roll/", {"grace_seconds": "3600"}
    )


def test_the_portal_shows_the_reason_when_a_role_change_is_refused(
    org, portal_member, hook_receiver
):
    make_hook(org, hook_receiver(deny(REASON)).url, actions=["member.role_change"])
    client = portal_member(org, role="owner")
    target = MembershipFactory.create(org=org, role="member")
    response = client.post(f"/settings/members/{target.pk}/role/", {"role": "viewer"}, follow=True)
    assert f"Role not changed: Refused by the organization&#x27;s pre-write hook: {REASON}" in (
        response.content.decode()
    )
    target.refresh_from_db()
    assert target.role == "member"


# --- No answer: the hook's failure mode decides ------------------------------------------


@pytest.mark.parametrize("action", WRITES)
def test_a_hook_that_times_out_and_fails_open_lets_the_write_through(
    action, org, owner, hook_receiver
):
    receiver = hook_receiver(deny("too late to count"), delay=SLOW)
    make_hook(org, receiver.url, actions=[action], failure_mode="open")
    method, path, body, audited = _prepare(org, owner, action)
    before = AuditEvent.dangerously_unscoped.count()
    started = time.monotonic()

    response = _call(owner, method, path, body)

    assert time.monotonic() - started < SLOW - 1  # waited the setting (0.5 s), not the hook
    assert response.status_code in (200, 201), response.content
    assert [e.action for e in _events_since(before)] == [audited]


@pytest.mark.parametrize("action", WRITES)
def test_a_hook_that_times_out_and_fails_closed_refuses_the_write(
    action, org, owner, hook_receiver
):
    receiver = hook_receiver(ALLOW, delay=SLOW)
    make_hook(org, receiver.url, actions=[action], failure_mode="closed")
    method, path, body, _ = _prepare(org, owner, action)
    rows = _rows()
    before = AuditEvent.dangerously_unscoped.count()
    started = time.monotonic()

    response = _call(owner, method, path, body)

    assert time.monotonic() - started < SLOW - 1
    assert response.status_code == 403, response.content
    answer = response.json()
    assert answer["code"] == "hook_denied"
    assert answer["details"]["outcome"] == "timeout"
    assert "did not answer in time" in answer["details"]["reason"]
    assert _rows() == rows
    [event] = _events_since(before)
    assert (event.action, event.metadata["outcome"]) == ("hook.denied", "timeout")


def test_slow_hooks_share_one_budget_not_one_timeout_each(org, owner, hook_receiver):
    # Three hooks that would each take SLOW, all failing open: the write waits the setting
    # (0.5 s) once, not three times; the ones after the first get what is left (nothing).
    receivers = [hook_receiver(ALLOW, delay=SLOW) for _ in range(3)]
    for receiver in receivers:
        make_hook(org, receiver.url, actions=["api_key.create"], failure_mode="open")
    started = time.monotonic()

    response = _call(owner, *_key_create(org, owner))

    assert time.monotonic() - started < 0.5 * 2  # three timeouts would be 1.5 s
    assert response.status_code == 201, response.content
    assert len(receivers[0].requests) == 1


def test_a_hook_left_without_time_is_a_timeout_and_its_failure_mode_decides(
    org, owner, hook_receiver
):
    # The first hook (open) uses up the budget; the second (closed) would allow at once,
    # but is not asked: it timed out, so it refuses, audited like any timeout.
    slow, quick = hook_receiver(ALLOW, delay=SLOW), hook_receiver(ALLOW)
    make_hook(org, slow.url, actions=["api_key.create"], failure_mode="open")
    closed = make_hook(org, quick.url, actions=["api_key.create"], failure_mode="closed")
    before = AuditEvent.dangerously_unscoped.count()

    response = _call(owner, *_key_create(org, owner))

    assert response.status_code == 403, response.content
    assert response.json()["details"]["outcome"] == "timeout"
    assert "not asked" in response.json()["details"]["reason"]
    assert quick.requests == []
    assert not APIKey.objects.for_org(org).exists()
    [event] = _events_since(before)
    assert (event.action, event.target_id, event.metadata["outcome"]) == (
        "hook.denied",
        str(closed.pk),
        "timeout",
    )
    assert event.metadata["failure_mode"] == "closed"


def test_a_hook_answering_within_the_budget_leaves_the_rest_to_the_next(
    org, owner, hook_receiver, settings
):
    # Budget 1 s: the first answers after 0.3 s, the second is still asked (and allows).
    settings.PRE_WRITE_HOOK_TIMEOUT_SECONDS = 1.0
    first, second = hook_receiver(ALLOW, delay=0.3), hook_receiver(ALLOW)
    for receiver in (first, second):
        make_hook(org, receiver.url, actions=["api_key.create"], failure_mode="closed")
    assert _call(owner, *_key_create(org, owner)).status_code == 201
    assert (len(first.requests), len(second.requests)) == (1, 1)


@pytest.mark.parametrize(
    ("status", "answer", "outcome"),
    [
        (500, ALLOW, "error"),
        (302, ALLOW, "error"),  # redirects are not followed
        (200, b"yes", "bad_answer"),
        (200, json.dumps({"allow": "true"}).encode(), "bad_answer"),
        (200, json.dumps([True]).encode(), "bad_answer"),
    ],
)
@pytest.mark.parametrize("failure_mode", ["open", "closed"])
def test_an_answer_that_is_not_a_verdict_is_decided_by_the_failure_mode(
    status, answer, outcome, failure_mode, org, owner, hook_receiver
):
    receiver = hook_receiver(answer, status=status)
    make_hook(org, receiver.url, actions=["api_key.create"], failure_mode=failure_mode)
    response = _call(owner, *_key_create(org, owner))
    if failure_mode == "open":
        assert response.status_code == 201
    else:
        assert response.status_code == 403
        assert response.json()["details"]["outcome"] == outcome
        assert not APIKey.objects.for_org(org).exists()


def test_the_ssrf_filter_applies_at_call_time(org, owner, hook_receiver, settings):
    """Registered while private addresses were allowed; once they are not, the call is
    refused before any connection, and a fail-closed hook refuses the write."""
    receiver = hook_receiver(ALLOW)
    make_hook(org, receiver.url, actions=["api_key.create"], failure_mode="closed")
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = _call(owner, *_key_create(org, owner))
    assert response.status_code == 403
    assert response.json()["details"]["outcome"] == "error"
    assert "cannot be delivered to" in response.json()["details"]["reason"]
    assert receiver.requests == []


# --- Which hooks are asked ---------------------------------------------------------------


def test_only_enabled_hooks_of_the_action_and_of_the_org_are_asked(
    org, other_org, owner, hook_receiver
):
    asked, other_action, disabled, theirs = (hook_receiver(ALLOW) for _ in range(4))
    make_hook(org, asked.url, actions=["api_key.create", "member.invite"])
    make_hook(org, other_action.url, actions=["member.invite"])
    make_hook(org, disabled.url, actions=["api_key.create"], enabled=False)
    make_hook(other_org, theirs.url, actions=["api_key.create"])
    assert _call(owner, *_key_create(org, owner)).status_code == 201
    assert len(asked.requests) == 1
    assert other_action.requests == disabled.requests == theirs.requests == []


def test_hooks_are_asked_in_order_and_the_first_denial_ends_it(org, owner, hook_receiver):
    first, second, third = hook_receiver(ALLOW), hook_receiver(deny(REASON)), hook_receiver()
    for receiver in (first, second, third):
        make_hook(org, receiver.url, actions=["api_key.create"])
    assert _call(owner, *_key_create(org, owner)).status_code == 403
    assert (len(first.requests), len(second.requests), third.requests) == (1, 1, [])


def test_trusted_system_code_is_not_put_to_the_hooks(org, hook_receiver):
    receiver = hook_receiver(deny(REASON))
    make_hook(org, receiver.url, actions=["api_key.create"])
    creator = MembershipFactory.create(org=org, role="owner")
    api_key_create(org=org, actor=Actor.system(), creator=creator, name="from a command")
    assert receiver.requests == []


def test_a_no_op_role_change_asks_no_hook(org, owner, hook_receiver):
    receiver = hook_receiver(deny(REASON))
    make_hook(org, receiver.url, actions=["member.role_change"])
    target = MembershipFactory.create(org=org, role="viewer")
    response = _call(owner, "PATCH", f"/api/members/{target.pk}", {"role": "viewer"})
    assert response.status_code == 200
    assert receiver.requests == []


def test_a_write_the_rules_refuse_anyway_asks_no_hook(org, as_member, hook_receiver):
    receiver = hook_receiver(ALLOW)
    make_hook(org, receiver.url, actions=["member.role_change"])
    admin = as_member(org, role="admin")
    target = MembershipFactory.create(org=org, role="member")
    response = _call(admin, "PATCH", f"/api/members/{target.pk}", {"role": "owner"})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert receiver.requests == []


def test_an_invitation_that_would_conflict_asks_no_hook(org, owner, hook_receiver):
    receiver = hook_receiver(ALLOW)
    make_hook(org, receiver.url, actions=["member.invite"])
    member = MembershipFactory.create(org=org, role="member")
    body = {"email": member.user.email, "role": "member"}
    response = _call(owner, "POST", "/api/invitations", body)
    assert response.status_code == 409
    assert receiver.requests == []


@pytest.mark.parametrize("action", ["api_key.create", "api_key.roll"])
def test_a_key_the_policy_refuses_asks_no_hook(action, org, owner, hook_receiver):
    from apikeys.services import api_key_policy_set

    receiver = hook_receiver(ALLOW)
    make_hook(org, receiver.url, actions=[action])
    method, path, body, _ = _prepare(org, owner, action)
    api_key_policy_set(org=org, actor=Actor.system(), by=None, changes={"max_lifetime_days": 30})
    response = _call(owner, method, path, body)
    assert response.status_code == 422
    assert response.json()["code"] == "policy_violation"
    assert receiver.requests == []


# --- Never across a transaction ----------------------------------------------------------


def test_consulting_inside_a_transaction_is_refused(org, hook_receiver):
    make_hook(org, hook_receiver(ALLOW).url, actions=["member.invite"])
    actor = Actor(type="user", id="1", label="someone@example.test")
    with transaction.atomic(), pytest.raises(HookConsultedInsideATransaction):
        hooks_consult(org=org, actor=actor, action="member.invite", proposed={})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("through", ["api", "portal"])
def test_no_transaction_is_open_while_the_hook_is_asked(
    through, org, owner, portal_member, hook_receiver
):
    """The receiver looks at the app's own database session from outside, while the call
    is in flight: it must be idle, not 'idle in transaction' (the request's own transaction
    was closed for the call: outside_the_request_transaction)."""
    connection.ensure_connection()
    app_pid = connection.connection.info.backend_pid
    dsn = connection.get_connection_params()
    dsn.pop("cursor_factory", None)
    dsn.pop("prepare_threshold", None)
    states = []

    def look(_request):
        with psycopg.connect(**dsn) as probe:
            row = probe.execute(
                "SELECT state FROM pg_stat_activity WHERE pid = %s", [app_pid]
            ).fetchone()
        states.append(row[0] if row else None)
        return ALLOW

    make_hook(org, hook_receiver(look).url, actions=["api_key.create"])
    if through == "api":
        response = _call(owner, *_key_create(org, owner))
        assert response.status_code == 201
    else:
        client = portal_member(org, role="owner")
        response = client.post("/settings/api-keys/new/", {"name": "ci", "env": "live"})
        assert response.status_code == 302
    assert states == ["idle"]
