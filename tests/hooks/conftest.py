import json

import pytest

from audit.webhooks.signing import generate_secret
from hooks.models import HOOKABLE_ACTIONS, PreWriteHook
from orgs.models import Membership
from tests.audit.webhooks.receiver import Receiver

ALLOW = json.dumps({"allow": True}).encode()
ERROR_KEYS = {"error", "code", "details", "request_id"}


def post_json(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def set_role(membership, role):
    """Change a member's role behind the services' back, as another request's commit would."""
    Membership.objects.for_org(membership.org).filter(pk=membership.pk).update(role=role)


def deny(reason):
    return json.dumps({"allow": False, "reason": reason}).encode()


@pytest.fixture
def local_targets(settings):
    """Receivers in these tests listen on 127.0.0.1 over plain HTTP (the SSRF filter is
    relaxed the way local development relaxes it); hooks get a short timeout."""
    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.PRE_WRITE_HOOK_TIMEOUT_SECONDS = 0.5


@pytest.fixture
def hook_receiver(local_targets):
    """A real HTTP server on 127.0.0.1 answering every call with ``answer`` (after
    ``delay`` seconds, with ``status``)."""
    started = []

    def make(answer=ALLOW, status=200, delay=0.0):
        receiver = Receiver((status,), delay, answer=answer).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


def make_hook(org, url, *, actions=tuple(HOOKABLE_ACTIONS), failure_mode="closed", **fields):
    """A hook row without the create service, so its hook.created event does not join
    what a test counts."""
    return PreWriteHook.objects.create(
        org=org,
        url=url,
        actions=sorted(actions),  # as the services store them
        failure_mode=failure_mode,
        secret=generate_secret(),
        **fields,
    )


@pytest.fixture
def deciding(monkeypatch):
    """Replace the hooks of orgs and apikeys by one that runs ``change`` while deciding
    (and approves); returns the list of proposals it was shown."""
    shown = []

    def install(change):
        def fake(*, org, actor, action, proposed):
            shown.append((action, proposed))
            change()

        monkeypatch.setattr("orgs.services.hooks_consult", fake)
        monkeypatch.setattr("apikeys.services.hooks_consult", fake)
        return shown

    return install
