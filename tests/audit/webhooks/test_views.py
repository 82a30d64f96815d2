"""Webhooks in the portal: secret once, test event, delivery log, retry now."""

import pytest

from audit.models import AuditEvent
from audit.webhooks.delivery import Worker
from audit.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.audit.helpers import make_endpoint

pytestmark = pytest.mark.django_db

URL = "/settings/webhooks/"


def _new_actions(before):
    return [e.action for e in AuditEvent.dangerously_unscoped.order_by("id")[before:]]


def test_anonymous_and_roles_without_webhook_read(client, org, portal_member):
    assert client.get(URL)["Location"] == "/login/?next=/settings/webhooks/"
    assert portal_member(org, role="developer").get(URL).status_code == 403
    forged = portal_member(org, role="developer").post(f"{URL}new/", {"url": "https://x.test/"})
    assert forged.status_code == 403
    assert not WebhookEndpoint.objects.for_org(org).exists()


def test_create_shows_the_secret_once(org, portal_member):
    admin = portal_member(org, role="admin")
    before = AuditEvent.dangerously_unscoped.count()
    response = admin.post(
        f"{URL}new/",
        {
            "url": "https://hooks.example.test/x",
            "event_types": ["api_key.created"],
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    assert _new_actions(before) == ["webhook.created"]
    endpoint = WebhookEndpoint.objects.for_org(org).get()
    shown = admin.get(response["Location"])
    assert shown["Cache-Control"] == "no-store"
    assert endpoint.secret in shown.content.decode()
    assert endpoint.secret not in admin.get(response["Location"]).content.decode()


def test_bad_url_re_renders_with_the_message(org, portal_member, settings):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    admin = portal_member(org, role="admin")
    response = admin.post(f"{URL}new/", {"url": "http://insecure.test/"})
    assert response.status_code == 422
    assert response.context["form"].errors["url"] == ["Enter a valid https URL"]
    assert 'value="http://insecure.test/"' in response.content.decode()


def test_test_event_is_delivered_and_logged(org, portal_member, local_targets, receiver):
    admin = portal_member(org, role="admin")
    endpoint = make_endpoint(org, receiver.url, event_types=["api_key.created"])
    other = make_endpoint(org, "https://elsewhere.example.test/")
    before = AuditEvent.dangerously_unscoped.count()
    admin.post(f"{URL}{endpoint.pk}/test/")
    assert _new_actions(before) == ["webhook.tested"]
    Worker().run_until_idle()
    assert len(receiver.requests) == 1
    assert b'"type":"webhook.tested"' in receiver.requests[0].body
    assert not WebhookDelivery.objects.for_org(org).filter(endpoint=other).exists()
    page = admin.get(f"{URL}{endpoint.pk}/").content.decode()
    assert "webhook.tested" in page
    assert '<span class="badge succeeded">succeeded</span>' in page


def test_retry_now_requeues_a_failed_delivery(org, portal_member, local_targets, make_receiver):
    failing = make_receiver(statuses=(500, 200))
    admin = portal_member(org, role="admin")
    endpoint = make_endpoint(org, failing.url)
    admin.post(f"{URL}{endpoint.pk}/test/")
    Worker().run_until_idle()
    delivery = WebhookDelivery.objects.for_org(org).get()
    assert delivery.status == "failed"
    page = admin.get(f"{URL}{endpoint.pk}/").content.decode()
    assert "HTTP 500" in page
    assert "Retry now" in page
    before = AuditEvent.dangerously_unscoped.count()
    admin.post(f"{URL}{endpoint.pk}/deliveries/{delivery.pk}/retry/")
    assert _new_actions(before) == ["webhook.delivery_retried"]
    Worker().run_until_idle()
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    refused = admin.post(f"{URL}{endpoint.pk}/deliveries/{delivery.pk}/retry/", follow=True)
    assert "Only a failed or dead delivery can be retried" in refused.content.decode()


def test_delete_confirms_then_deletes(org, portal_member):
    admin = portal_member(org, role="admin")
    endpoint = make_endpoint(org, "https://hooks.example.test/x")
    assert (
        "Delete the webhook endpoint" in admin.get(f"{URL}{endpoint.pk}/delete/").content.decode()
    )
    before = AuditEvent.dangerously_unscoped.count()
    admin.post(f"{URL}{endpoint.pk}/delete/")
    assert _new_actions(before) == ["webhook.deleted"]


def test_another_orgs_endpoint_is_404(org, other_org, portal_member):
    admin = portal_member(org, role="owner")
    theirs = make_endpoint(other_org, "https://hooks.example.test/theirs")
    assert admin.get(f"{URL}{theirs.pk}/").status_code == 404
    assert admin.post(f"{URL}{theirs.pk}/test/").status_code == 404
    assert admin.post(f"{URL}{theirs.pk}/delete/").status_code == 404
    assert admin.post(f"{URL}{theirs.pk}/deliveries/1/retry/").status_code == 404


def test_disable_and_enable_an_endpoint(org, portal_member):
    admin = portal_member(org, role="admin")
    endpoint = make_endpoint(org, "https://hooks.example.test/x")
    before = AuditEvent.dangerously_unscoped.count()
    admin.post(f"{URL}{endpoint.pk}/enabled/")
    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    assert "Enable</button>" in admin.get(f"{URL}{endpoint.pk}/").content.decode()
    admin.post(f"{URL}{endpoint.pk}/enabled/", {"enabled": "on"})
    endpoint.refresh_from_db()
    assert endpoint.enabled is True
    assert _new_actions(before) == ["webhook.updated", "webhook.updated"]
