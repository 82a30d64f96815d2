"""Endpoint create/update/delete: atomic, validated, audited, and never leaking the secret."""

import base64
import json

import pytest
from django.core.exceptions import ValidationError

from audit.actors import Actor
from audit.models import AuditEvent, OutboxEvent
from audit.webhooks.models import WebhookEndpoint
from audit.webhooks.services import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
)

pytestmark = pytest.mark.django_db

ADMIN = Actor(type="user", id="1", label="admin@example.test")
URL = "https://hooks.example.test/tenantry?token=receiver-query-token"


@pytest.fixture(autouse=True)
def _production_url_rules(settings):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False


@pytest.fixture
def created(org):
    return webhook_endpoint_create(
        org=org, actor=ADMIN, url=URL, description="CRM sync", event_types=["member.added"]
    )


def _audit(action):
    return AuditEvent.dangerously_unscoped.get(action=action)


def test_create_returns_a_standard_webhooks_secret_once(created):
    assert created.secret.startswith("whsec_")
    assert len(base64.b64decode(created.secret.removeprefix("whsec_"))) == 32
    assert created.endpoint.secret == created.secret
    assert created.secret not in str(created.endpoint)
    assert created.secret not in repr(created.endpoint)


def test_each_endpoint_gets_its_own_secret(org, created):
    other = webhook_endpoint_create(org=org, actor=ADMIN, url="https://b.example.test/hook")
    assert other.secret != created.secret


def test_create_is_audited_without_the_secret_or_the_urls_query(org, created):
    event = _audit("webhook.created")
    assert event.org_id == org.pk
    assert (event.actor_id, event.target_type, event.target_id) == (
        "1",
        "webhooks.webhookendpoint",
        str(created.endpoint.pk),
    )
    assert event.metadata == {
        "url": "https://hooks.example.test/…",
        "description": "CRM sync",
        "event_types": ["member.added"],
        "enabled": True,
    }
    assert event.target_label == "https://hooks.example.test/…"
    assert OutboxEvent.dangerously_unscoped.filter(
        audit_event=event, type="webhook.created"
    ).exists()


def test_update_records_before_and_after_of_what_changed(org, created):
    webhook_endpoint_update(
        org=org, actor=ADMIN, endpoint=created.endpoint, enabled=False, event_types=[]
    )

    assert _audit("webhook.updated").metadata == {
        "before": {"event_types": ["member.added"], "enabled": True},
        "after": {"event_types": [], "enabled": False},
    }
    endpoint = WebhookEndpoint.objects.for_org(org).get()
    assert (endpoint.enabled, endpoint.event_types, endpoint.secret) == (
        False,
        [],
        created.secret,
    )


def test_update_of_only_the_urls_query_is_audited_without_it(org, created):
    webhook_endpoint_update(
        org=org, actor=ADMIN, endpoint=created.endpoint, url=URL.replace("receiver", "rotated")
    )

    metadata = _audit("webhook.updated").metadata
    assert metadata["before"] == metadata["after"] == {"url": "https://hooks.example.test/…"}
    assert "rotated" not in json.dumps(metadata)


def test_update_that_changes_nothing_writes_nothing(org, created):
    webhook_endpoint_update(
        org=org, actor=ADMIN, endpoint=created.endpoint, url=URL, description=" CRM sync "
    )
    assert not AuditEvent.dangerously_unscoped.filter(action="webhook.updated").exists()


def test_delete_is_audited_and_removes_the_endpoint(org, created):
    webhook_endpoint_delete(org=org, actor=ADMIN, endpoint=created.endpoint)

    assert not WebhookEndpoint.objects.for_org(org).exists()
    assert _audit("webhook.deleted").metadata["url"] == "https://hooks.example.test/…"


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda org, ep: webhook_endpoint_update(org=org, actor=ADMIN, endpoint=ep,
                                                             enabled=False), id="update"),
        pytest.param(lambda org, ep: webhook_endpoint_delete(org=org, actor=ADMIN, endpoint=ep),
                     id="delete"),
    ],
)  # fmt: skip
def test_another_orgs_endpoint_is_not_found(other_org, created, write):
    with pytest.raises(WebhookEndpoint.DoesNotExist):
        write(other_org, created.endpoint)
    assert WebhookEndpoint.dangerously_unscoped.get().enabled is True
    assert not AuditEvent.dangerously_unscoped.filter(
        action__in=["webhook.updated", "webhook.deleted"]
    ).exists()


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        pytest.param({"url": "http://hooks.example.test/x"}, "url", id="plain-http"),
        pytest.param({"url": "ftp://hooks.example.test/x"}, "url", id="not-http"),
        pytest.param({"url": "not a url"}, "url", id="garbage"),
        pytest.param({"url": "https://user:pw@hooks.example.test/x"}, "url", id="credentials"),
        pytest.param({"url": "https://127.0.0.1/x"}, "url", id="loopback"),
        pytest.param({"url": "https://10.1.2.3/x"}, "url", id="private"),
        pytest.param({"url": "https://169.254.169.254/latest"}, "url", id="link-local"),
        pytest.param({"url": "https://[::1]/x"}, "url", id="ipv6-loopback"),
        pytest.param({"url": "https://localhost/x"}, "url", id="localhost"),
        pytest.param({"url": "https://x.example.test/" + "a" * 2048}, "url", id="too-long"),
        pytest.param({"event_types": ["member.added", "no.such"]}, "event_types", id="unknown"),
        pytest.param({"description": "d" * 256}, "description", id="long-description"),
    ],
)
def test_invalid_endpoint_is_refused_and_nothing_is_written(org, fields, error_field):
    with pytest.raises(ValidationError) as excinfo:
        webhook_endpoint_create(org=org, actor=ADMIN, **{"url": URL, **fields})
    assert error_field in excinfo.value.message_dict
    assert not WebhookEndpoint.dangerously_unscoped.exists()
    assert not AuditEvent.dangerously_unscoped.exists()


def test_plain_http_and_private_targets_are_allowed_where_configured(org, settings):
    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    created = webhook_endpoint_create(org=org, actor=ADMIN, url="http://127.0.0.1:8080/hook")
    assert created.endpoint.url == "http://127.0.0.1:8080/hook"


def test_secret_is_not_editable_so_no_model_form_shows_it():
    assert WebhookEndpoint._meta.get_field("secret").editable is False


def test_secret_never_lands_in_the_audit_trail_or_events(org, created):
    webhook_endpoint_update(org=org, actor=ADMIN, endpoint=created.endpoint, description="v2")
    webhook_endpoint_delete(org=org, actor=ADMIN, endpoint=created.endpoint)

    key_material = created.secret.removeprefix("whsec_")
    trail = json.dumps(
        [
            list(AuditEvent.dangerously_unscoped.values()),
            list(OutboxEvent.dangerously_unscoped.values("payload")),
        ],
        default=str,
    )
    assert AuditEvent.dangerously_unscoped.filter(action__startswith="webhook.").count() == 3
    assert key_material not in trail
    assert "receiver-query-token" not in trail


def test_a_secret_in_the_urls_path_stays_out_of_the_trail(org):
    slack = "https://hooks.slack.example/services/T000/B000/XXXXSECRETXXXX"
    webhook_endpoint_create(org=org, actor=ADMIN, url=slack)
    event = _audit("webhook.created")
    assert "XXXXSECRETXXXX" not in str(event.metadata)
    assert "XXXXSECRETXXXX" not in event.target_label
    assert event.metadata["url"] == "https://hooks.slack.example/…"


@pytest.mark.parametrize(
    "url", ["https://hooks.example.test:99999/x", "https://hooks.example.test:0/x"]
)
def test_an_impossible_port_is_a_validation_error(org, url):
    with pytest.raises(ValidationError) as info:
        webhook_endpoint_create(org=org, actor=ADMIN, url=url)
    assert "url" in info.value.message_dict
