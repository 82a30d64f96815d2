"""/api/webhooks: endpoints (the secret shown once), roles, validation, the delivery log."""

import pytest

from apikeys.services import api_key_create
from audit.actors import Actor
from audit.models import AuditEvent
from audit.webhooks.delivery import Worker
from audit.webhooks.models import WebhookDelivery, WebhookEndpoint
from orgs.audit_actions import MEMBER_ADDED, ORG_UPDATED
from tests.apikeys.conftest import with_key
from tests.audit.helpers import emit, make_endpoint

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.test/tenantry?token=receiver-query-token"


@pytest.fixture(autouse=True)
def _production_url_rules(settings):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False


@pytest.fixture
def admin(org, as_member):
    return as_member(org, role="admin")


def _create(client, **fields):
    response = client.post("/api/webhooks", {"url": URL, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response


# --- The secret, once ------------------------------------------------------------------


def test_create_returns_the_secret_once_and_never_again(org, admin):
    response = _create(admin, description="CRM sync", event_types=["member.added"])
    body = response.json()
    secret = body["secret"]

    assert secret.startswith("whsec_")
    assert response["Cache-Control"] == "no-store"
    assert body == {
        "id": body["id"],
        "url": URL,
        "description": "CRM sync",
        "event_types": ["member.added"],
        "enabled": True,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "secret": secret,
    }
    listed = admin.get("/api/webhooks").json()
    fetched = admin.get(f"/api/webhooks/{body['id']}").json()
    patched = admin.patch(f"/api/webhooks/{body['id']}", {"enabled": False}, format="json")
    for answer in (listed, fetched, patched.json()):
        assert secret not in str(answer)
    assert "secret" not in fetched
    assert listed["data"][0]["id"] == body["id"]
    assert secret not in str(list(AuditEvent.dangerously_unscoped.values()))
    assert WebhookEndpoint.objects.for_org(org).get().secret == secret


def test_create_is_audited_once_as_the_caller(org, admin):
    response = _create(admin)
    [event] = AuditEvent.dangerously_unscoped.filter(action="webhook.created")
    assert event.actor_id == str(admin.membership.user_id)
    assert event.target_id == str(response.json()["id"])
    assert event.request_id == response["X-Request-ID"]


def test_list_is_paginated_newest_first(org, admin):
    first = _create(admin).json()["id"]
    second = _create(admin, url="https://hooks.example.test/second").json()["id"]
    body = admin.get("/api/webhooks?limit=1").json()
    assert [e["id"] for e in body["data"]] == [second]
    assert body["pagination"]["total_items"] == 2
    assert [e["id"] for e in admin.get("/api/webhooks?limit=1&page=2").json()["data"]] == [first]


# --- Changing and removing -------------------------------------------------------------


def test_patch_changes_only_what_it_names_and_is_audited(org, admin):
    endpoint = _create(admin, description="CRM sync").json()
    response = admin.patch(
        f"/api/webhooks/{endpoint['id']}",
        {"enabled": False, "event_types": ["api_key.created", "api_key.created"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["enabled"], body["event_types"], body["description"], body["url"]) == (
        False,
        ["api_key.created"],
        "CRM sync",
        URL,
    )
    assert AuditEvent.dangerously_unscoped.get(action="webhook.updated").metadata == {
        "before": {"event_types": [], "enabled": True},
        "after": {"event_types": ["api_key.created"], "enabled": False},
    }


def test_delete_answers_204_and_the_endpoint_is_gone(org, admin):
    endpoint = _create(admin).json()
    response = admin.delete(f"/api/webhooks/{endpoint['id']}")
    assert response.status_code == 204
    assert admin.get(f"/api/webhooks/{endpoint['id']}").status_code == 404
    assert AuditEvent.dangerously_unscoped.filter(action="webhook.deleted").count() == 1


# --- Validation: the services' rules, as 422s ------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        pytest.param({"url": "http://hooks.example.test/x"}, "url", id="plain-http"),
        pytest.param({"url": "not a url"}, "url", id="garbage"),
        pytest.param({"url": ""}, "url", id="empty"),
        pytest.param({"url": None}, "url", id="null"),
        pytest.param({"url": "https://user:pw@hooks.example.test/x"}, "url", id="credentials"),
        pytest.param({"url": "https://127.0.0.1/x"}, "url", id="loopback"),
        pytest.param({"url": "https://10.1.2.3/x"}, "url", id="private"),
        pytest.param({"url": "https://169.254.169.254/latest"}, "url", id="metadata-service"),
        pytest.param({"url": "https://localhost/x"}, "url", id="localhost"),
        pytest.param({"url": "https://[::1]/x"}, "url", id="ipv6-loopback"),
        pytest.param({"event_types": ["no.such_event"]}, "event_types", id="unknown-event"),
        pytest.param({"event_types": "api_key.created"}, "event_types", id="not-a-list"),
        pytest.param({"description": "x" * 256}, "description", id="long-description"),
        pytest.param({"enabled": "maybe"}, "enabled", id="enabled-not-boolean"),
    ],
)
def test_a_bad_endpoint_is_a_422_and_nothing_is_written(org, admin, fields, error_field):
    response = admin.post("/api/webhooks", {"url": URL, **fields}, format="json")
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert error_field in body["details"]["fieldErrors"]
    assert not WebhookEndpoint.objects.for_org(org).exists()
    assert not AuditEvent.dangerously_unscoped.filter(action="webhook.created").exists()


def test_a_bad_patch_is_a_422_and_changes_nothing(org, admin):
    endpoint = _create(admin).json()
    response = admin.patch(
        f"/api/webhooks/{endpoint['id']}", {"url": "https://192.168.0.10/x"}, format="json"
    )
    assert response.status_code == 422
    assert "url" in response.json()["details"]["fieldErrors"]
    assert WebhookEndpoint.objects.for_org(org).get().url == URL
    assert not AuditEvent.dangerously_unscoped.filter(action="webhook.updated").exists()


# --- Who may --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["developer", "member", "viewer"])
def test_roles_without_webhook_actions_may_neither_read_nor_write(org, as_member, role):
    endpoint = make_endpoint(org, URL)
    client = as_member(org, role=role)
    for method, path in [
        ("get", "/api/webhooks"),
        ("get", f"/api/webhooks/{endpoint.pk}"),
        ("get", f"/api/webhooks/{endpoint.pk}/deliveries"),
        ("post", "/api/webhooks"),
        ("patch", f"/api/webhooks/{endpoint.pk}"),
        ("delete", f"/api/webhooks/{endpoint.pk}"),
    ]:
        response = getattr(client, method)(path, {"url": URL}, format="json")
        assert response.status_code == 403, (method, path, response.status_code)
    assert WebhookEndpoint.objects.for_org(org).get().enabled


def test_a_key_scoped_to_webhook_read_reads_but_cannot_write(org, as_member):
    owner = as_member(org, role="owner")
    _, raw = api_key_create(
        org=org,
        actor=Actor.system(),
        creator=owner.membership,
        name="reader",
        scopes=["webhook:read"],
    )
    endpoint = make_endpoint(org, URL)
    reader = with_key(raw)
    assert reader.get("/api/webhooks").status_code == 200
    assert reader.get(f"/api/webhooks/{endpoint.pk}/deliveries").status_code == 200
    assert reader.post("/api/webhooks", {"url": URL}, format="json").status_code == 403
    assert reader.delete(f"/api/webhooks/{endpoint.pk}").status_code == 403


def test_another_orgs_endpoints_are_not_listed_and_not_found(org, other_org, admin):
    theirs = make_endpoint(other_org, "https://hooks.example.test/theirs")
    assert admin.get("/api/webhooks").json()["data"] == []
    for method in ("get", "patch", "delete"):
        response = getattr(admin, method)(
            f"/api/webhooks/{theirs.pk}", {"enabled": False}, format="json"
        )
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert admin.get(f"/api/webhooks/{theirs.pk}/deliveries").status_code == 404
    assert WebhookEndpoint.dangerously_unscoped.get(pk=theirs.pk).enabled


# --- The delivery log -------------------------------------------------------------------


@pytest.fixture
def delivered(org, admin, local_targets, make_receiver):
    """Two events to a receiver that takes the first and fails the second, and one event
    to another endpoint of the org."""
    receiver = make_receiver(statuses=(200, 503))
    endpoint = admin.post(
        "/api/webhooks",
        {"url": receiver.url, "event_types": ["org.updated", "member.added"]},
        format="json",
    ).json()
    make_endpoint(org, "http://127.0.0.1:9/elsewhere", event_types=["org.updated"])
    first, second = emit(org, ORG_UPDATED), emit(org, MEMBER_ADDED)
    Worker().run_until_idle()
    return endpoint, first, second


def test_deliveries_read_newest_first_with_their_outcome(org, admin, delivered):
    endpoint, first, second = delivered
    response = admin.get(f"/api/webhooks/{endpoint['id']}/deliveries")
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"]["total_items"] == 2
    failed, succeeded = body["data"]
    assert {k: failed[k] for k in failed if k not in ("id", "next_attempt_at", "created_at")} == {
        "event_id": second.outbox_event.public_id,
        "event_type": "member.added",
        "status": "failed",
        "attempts": 1,
        "last_status_code": 503,
        "last_error": "HTTP 503",
        "delivered_at": None,
    }
    assert failed["next_attempt_at"] > failed["created_at"]
    assert (succeeded["event_id"], succeeded["status"], succeeded["last_status_code"]) == (
        first.outbox_event.public_id,
        "succeeded",
        200,
    )
    assert succeeded["delivered_at"] is not None
    assert succeeded["last_error"] == ""


def test_deliveries_filter_by_status_and_page(admin, delivered):
    endpoint, first, _ = delivered
    path = f"/api/webhooks/{endpoint['id']}/deliveries"
    succeeded = admin.get(f"{path}?status=succeeded").json()["data"]
    assert [d["event_id"] for d in succeeded] == [first.outbox_event.public_id]
    second_page = admin.get(f"{path}?limit=1&page=2").json()
    assert [d["event_id"] for d in second_page["data"]] == [first.outbox_event.public_id]
    assert second_page["pagination"]["has_prev"] is True
    bad = admin.get(f"{path}?status=lost")
    assert bad.status_code == 422
    assert "status" in bad.json()["details"]["fieldErrors"]


def test_the_delivery_log_costs_the_same_however_many_deliveries(
    org, admin, delivered, max_data_queries
):
    endpoint, _, _ = delivered
    for _ in range(5):
        emit(org, ORG_UPDATED)
    Worker().run_until_idle()
    assert WebhookDelivery.objects.for_org(org).count() > 5
    # Credential, naming the org for the transaction (tenancy.rls), endpoint, count, page
    # (with each delivery's event joined in).
    with max_data_queries(5):
        admin.get(f"/api/webhooks/{endpoint['id']}/deliveries")


def test_an_endpoint_gone_before_the_service_locks_it_is_a_404(org, admin, monkeypatch):
    """A DoesNotExist escaping a service (here: deleted between the view's lookup and the
    service's lock) renders the contract's 404, never a 500."""
    from audit.webhooks import api, services

    endpoint_id = _create(admin).json()["id"]

    def deleted_meanwhile(**kwargs):
        WebhookEndpoint.objects.for_org(org).filter(pk=endpoint_id).delete()
        return services.webhook_endpoint_update(**kwargs)

    monkeypatch.setattr(api, "webhook_endpoint_update", deleted_meanwhile)
    response = admin.patch(f"/api/webhooks/{endpoint_id}", {"enabled": False}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert set(response.json()) == {"error", "code", "details", "request_id"}


def test_send_a_test_event_and_retry_a_failed_delivery_over_the_api(org, as_member):
    from audit.webhooks.models import WebhookDelivery
    from tests.audit.helpers import make_endpoint

    admin = as_member(org, role="admin")
    endpoint = make_endpoint(org, "https://hooks.example.test/api")
    sent = admin.post(f"/api/webhooks/{endpoint.pk}/test")
    assert sent.status_code == 202
    assert sent.json()["status"] == "pending"
    delivery_id = sent.json()["id"]
    refused = admin.post(f"/api/webhooks/{endpoint.pk}/deliveries/{delivery_id}/retry")
    assert refused.status_code == 422  # pending: nothing to retry yet
    WebhookDelivery.objects.for_org(org).filter(pk=delivery_id).update(status="dead", attempts=12)
    retried = admin.post(f"/api/webhooks/{endpoint.pk}/deliveries/{delivery_id}/retry")
    assert retried.status_code == 202
    assert retried.json()["status"] == "pending"
    assert admin.post(f"/api/webhooks/{endpoint.pk}/deliveries/999999/retry").status_code == 404
    developer = as_member(org, role="developer")
    assert developer.post(f"/api/webhooks/{endpoint.pk}/test").status_code == 403
