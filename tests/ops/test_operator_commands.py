"""Operator commands: revoke a key, flush dead sign-ins, replay dead webhook deliveries.
Each is audited as the system actor."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import BrowserSession, MfaChallenge, RefreshToken, TokenFamily
from apikeys.services import api_key_create
from audit.actors import Actor
from audit.models import AuditEvent, OutboxEvent
from audit.webhooks.models import WebhookDelivery
from tests.apikeys.conftest import with_key
from tests.audit.helpers import emit, make_endpoint
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def system_events(action, org_id=None):
    return AuditEvent.dangerously_unscoped.filter(action=action, org_id=org_id, actor_type="system")


# --- revokeapikey ----------------------------------------------------------------------


def test_revokeapikey_ends_a_key_at_once_and_audits_it_as_the_system(org):
    creator = MembershipFactory.create(org=org, role="admin")
    key, raw = api_key_create(org=org, actor=Actor.system(), creator=creator, name="ci")
    assert with_key(raw).get("/api/users/me").status_code == 200
    assert "Revoked key" in run("revokeapikey", "--org", org.slug, "--key", str(key.pk))
    assert with_key(raw).get("/api/users/me").status_code == 401
    event = system_events("api_key.revoked", org.pk).get()
    assert event.actor_label == "manage.py revokeapikey"


def test_revokeapikey_does_not_find_another_orgs_key(org, other_org):
    creator = MembershipFactory.create(org=other_org, role="admin")
    key, raw = api_key_create(org=other_org, actor=Actor.system(), creator=creator, name="x")
    with pytest.raises(CommandError, match="No key"):
        run("revokeapikey", "--org", org.slug, "--key", str(key.pk))
    assert with_key(raw).get("/api/users/me").status_code == 200


# --- flush_expired ---------------------------------------------------------------------


def test_flush_expired_deletes_only_dead_sign_ins_and_expired_sessions(org, sign_in, settings):
    now = timezone.now()
    live = sign_in(MembershipFactory.create(org=org))
    revoked_long_ago = sign_in(MembershipFactory.create(org=org))
    too_old = sign_in(MembershipFactory.create(org=org))
    families = TokenFamily.objects.for_org(org)

    def family_of(pair):
        return families.get(membership=pair.membership).pk

    families.filter(pk=family_of(revoked_long_ago)).update(revoked_at=now - timedelta(days=2))
    families.filter(pk=family_of(too_old)).update(
        created_at=now - settings.REFRESH_TOKEN_ABSOLUTE_LIFETIME - timedelta(hours=1)
    )
    BrowserSession.objects.create(
        session_key="expired" * 4, session_data="", expire_date=now - timedelta(seconds=1)
    )
    BrowserSession.objects.create(
        session_key="current" * 4, session_data="", expire_date=now + timedelta(days=1)
    )

    from accounts import mfa
    from audit.actors import RequestContext

    spent = MembershipFactory.create(org=org).user
    for _ in range(2):
        mfa.challenge_open(user=spent, channel="api", login_org=org, context=RequestContext())
    oldest = MfaChallenge.objects.order_by("pk").values_list("pk", flat=True)[0]
    MfaChallenge.objects.filter(pk=oldest).update(expires_at=now - timedelta(seconds=1))

    out = run("flush_expired")
    assert "Deleted 2 sign-ins (2 refresh tokens), 1 browser sessions" in out
    assert "and 1 second-factor challenges" in out
    assert MfaChallenge.objects.count() == 1
    assert list(families.values_list("pk", flat=True)) == [family_of(live)]
    assert RefreshToken.objects.for_org(org).count() == 1
    assert list(BrowserSession.objects.values_list("session_key", flat=True)) == ["current" * 4]
    event = system_events("auth.expired_flushed").get()
    assert event.metadata == {
        "sign_ins": 2, "refresh_tokens": 2, "browser_sessions": 1, "mfa_challenges": 1,
    }  # fmt: skip

    run("flush_expired")  # idempotent
    assert system_events("auth.expired_flushed").last().metadata == {
        "sign_ins": 0, "refresh_tokens": 0, "browser_sessions": 0, "mfa_challenges": 0,
    }  # fmt: skip


# --- replay_dead_deliveries ------------------------------------------------------------


def _delivery(org, endpoint, status):
    event = OutboxEvent.objects.for_org(org).get(audit_event=emit(org))
    return WebhookDelivery.objects.create(
        org=org, endpoint=endpoint, event=event, status=status, attempts=12,
        next_attempt_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip


def test_replay_dead_deliveries_queues_dead_ones_of_the_org_only(org, other_org):
    endpoint = make_endpoint(org, "https://hooks.example/a")
    dead = _delivery(org, endpoint, "dead")
    succeeded = _delivery(org, endpoint, "succeeded")
    theirs = _delivery(other_org, make_endpoint(other_org, "https://hooks.example/b"), "dead")

    assert "Queued 1 dead deliveries" in run("replay_dead_deliveries", "--org", org.slug)
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == ("pending", 0)
    assert dead.next_attempt_at <= timezone.now()
    succeeded.refresh_from_db()
    theirs.refresh_from_db()
    assert (succeeded.status, theirs.status) == ("succeeded", "dead")
    event = system_events("webhook.delivery_retried", org.pk).get()
    assert event.metadata["delivery_id"] == dead.pk


def test_replay_dead_deliveries_can_name_one_endpoint(org):
    one = make_endpoint(org, "https://hooks.example/one")
    other = make_endpoint(org, "https://hooks.example/other")
    first, second = _delivery(org, one, "dead"), _delivery(org, other, "dead")
    run("replay_dead_deliveries", "--org", org.slug, "--endpoint", str(one.pk))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("pending", "dead")
