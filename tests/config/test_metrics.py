"""Prometheus metrics at /metrics: request counts and latency by route, auth failures by
reason, rate-limit rejections, webhook lag and dead deliveries, open event streams."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from audit.models import OutboxEvent
from audit.webhooks.models import WebhookDelivery
from config import metrics
from tests.audit.helpers import emit, make_endpoint

pytestmark = pytest.mark.django_db


def scrape(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_and_timed_by_route_template_and_status(client, org, as_member):
    member = as_member(org, role="admin")
    before = scrape(client)
    member.get("/api/users/me")
    member.get("/api/members/999999")
    after = scrape(client)
    me = {"method": "GET", "route": "/api/users/me", "status": "200"}
    assert value(after, "tenantry_http_requests_total", **me) == (
        value(before, "tenantry_http_requests_total", **me) + 1
    )
    missing = {"method": "GET", "route": "/api/members/<int:pk>", "status": "404"}
    assert value(after, "tenantry_http_requests_total", **missing) == (
        value(before, "tenantry_http_requests_total", **missing) + 1
    )
    timed = {"method": "GET", "route": "/api/users/me"}
    assert value(after, "tenantry_http_request_duration_seconds_count", **timed) == (
        value(before, "tenantry_http_request_duration_seconds_count", **timed) + 1
    )


def test_auth_failures_are_counted_by_reason(client, api):
    before = scrape(client)
    api.get("/api/users/me", HTTP_AUTHORIZATION="Bearer eyJhbGciOi.eyJzdWIi.junk")
    api.get("/api/users/me")
    after = scrape(client)
    failures = "tenantry_auth_failures_total"
    assert value(after, failures, reason="unauthorized") == (
        value(before, failures, reason="unauthorized") + 2
    )


def test_rate_limit_rejections_are_counted(client, rf):
    from django.http import JsonResponse

    before = scrape(client)
    metrics.observe(rf.get("/api/users/me"), JsonResponse({}, status=429), "/api/users/me", 0.01)
    after = scrape(client)
    assert value(after, "tenantry_rate_limited_total", route="/api/users/me") == (
        value(before, "tenantry_rate_limited_total", route="/api/users/me") + 1
    )


def test_webhook_lag_and_dead_deliveries_are_read_at_scrape_time(client, org):
    endpoint = make_endpoint(org, "https://hooks.example/x")
    now = timezone.now()
    for status, due in [("pending", now - timedelta(seconds=90)), ("dead", now), ("dead", now)]:
        event = OutboxEvent.objects.for_org(org).get(audit_event=emit(org))
        WebhookDelivery.objects.create(
            org=org, endpoint=endpoint, event=event, status=status, next_attempt_at=due
        )
    samples = scrape(client)
    assert value(samples, "tenantry_webhook_deliveries_dead") == 2
    assert 90 <= value(samples, "tenantry_webhook_delivery_lag_seconds") < 120


@pytest.mark.django_db(transaction=True)  # a stream hands its database connection back
def test_open_event_streams_are_a_gauge(client, org, as_member, settings):
    settings.EVENT_STREAM_KEEPALIVE_SECONDS = 0.05
    admin = as_member(org, role="admin")
    before = value(scrape(client), "tenantry_event_stream_connections")
    response = admin.get("/api/events/stream")
    chunks = iter(response.streaming_content)
    next(chunks)
    assert value(scrape(client), "tenantry_event_stream_connections") == before + 1
    response.close()
    assert value(scrape(client), "tenantry_event_stream_connections") == before


def test_metrics_are_a_404_for_addresses_off_the_allow_list(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 404
    settings.METRICS_ALLOWED_IPS = ["203.0.113.0/24"]
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 200
    assert client.get("/metrics").status_code == 404  # 127.0.0.1 is no longer listed
