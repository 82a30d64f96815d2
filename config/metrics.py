"""Prometheus metrics, served at ``/metrics`` to the addresses in ``METRICS_ALLOWED_IPS``.

Per request (recorded by ``config.request_log.RequestLogMiddleware``): count and latency by
route template and status, authentication failures by reason, rate-limit rejections, and
open event streams. At scrape time, from the database: how far webhook delivery lags behind
and how many deliveries are dead. Under gunicorn, set ``PROMETHEUS_MULTIPROC_DIR`` (its
config does) and every worker's figures are summed.
"""

import functools
import ipaddress
import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from audit.webhooks.models import WebhookDelivery
from orgs.bases import PortalPublicView
from tenancy.rls import cross_org

logger = logging.getLogger(__name__)

REQUESTS = Counter("tenantry_http_requests_total", "Requests served", ["method", "route", "status"])
LATENCY = Histogram(
    "tenantry_http_request_duration_seconds",
    "Time to produce the response",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
AUTH_FAILURES = Counter(
    "tenantry_auth_failures_total", "Refused credentials, by error code", ["reason"]
)
RATE_LIMITED = Counter("tenantry_rate_limited_total", "Requests refused with 429", ["route"])
EVENT_STREAMS = Gauge(
    "tenantry_event_stream_connections", "Open event streams", multiprocess_mode="livesum"
)

_AUTH_FAILURE_CODES = {"unauthorized", "expired", "jwt_disabled", "mfa_required"}


# (method, route, status) -> the request counter's and the latency histogram's children:
# ``labels()`` checks and locks on every call to find the same two objects each time.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe(request: HttpRequest, response: HttpResponse, route: str, seconds: float) -> None:
    method = request.method or "-"
    found = (method, route, response.status_code)
    children = _children.get(found)
    if children is None:
        if len(_children) >= 10_000:
            _children.clear()
        children = _children[found] = (
            REQUESTS.labels(method, route, str(response.status_code)),
            LATENCY.labels(method, route),
        )
    children[0].inc()
    children[1].observe(seconds)
    if response.status_code == 429:
        RATE_LIMITED.labels(route).inc()
    if response.status_code in (401, 403):
        code = (getattr(response, "data", None) or {}).get("code")
        if code in _AUTH_FAILURE_CODES:
            AUTH_FAILURES.labels(code).inc()
    if getattr(response, "streaming", False) and route == "/api/events/stream":
        _count_open_stream(response)


def _count_open_stream(response: Any) -> None:
    """The gauge rises when a stream starts and falls when its body ends or is closed."""
    EVENT_STREAMS.inc()
    content = response.streaming_content
    if response.is_async:

        async def counted_async() -> AsyncIterator[Any]:
            try:
                async for chunk in content:
                    yield chunk
            finally:
                EVENT_STREAMS.dec()

        response.streaming_content = counted_async()
    else:

        def counted() -> Iterator[Any]:
            try:
                yield from content
            finally:
                EVENT_STREAMS.dec()

        response.streaming_content = counted()


class WebhookCollector(Collector):
    """Read at scrape time: one indexed query each, across every org (the operator's view)."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            yield from self._read()
        except DatabaseError:
            # The request metrics still matter most when the database is down.
            logger.warning("Metrics: webhook figures unavailable", exc_info=True)

    @cross_org()  # spans orgs: tenancy.rls's one cross-org path
    def _read(self) -> Iterable[GaugeMetricFamily]:
        due = WebhookDelivery.dangerously_unscoped.filter(
            status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED],
            next_attempt_at__lte=timezone.now(),
        ).aggregate(oldest=Min("next_attempt_at"))["oldest"]
        lag = (timezone.now() - due).total_seconds() if due else 0.0
        yield GaugeMetricFamily(
            "tenantry_webhook_delivery_lag_seconds",
            "How long the oldest due webhook delivery has waited",
            value=lag,
        )
        dead = WebhookDelivery.dangerously_unscoped.filter(
            status=WebhookDelivery.Status.DEAD
        ).count()
        yield GaugeMetricFamily(
            "tenantry_webhook_deliveries_dead", "Webhook deliveries given up on", value=dead
        )


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessMetrics())
    registry.register(WebhookCollector())
    return registry


class _ProcessMetrics(Collector):
    """This process's own metrics (a single-process server, such as the local run)."""

    def collect(self) -> Iterable[Any]:
        yield from REGISTRY.collect()


def _allowed(request: HttpRequest) -> bool:
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(client in network for network in _networks(tuple(settings.METRICS_ALLOWED_IPS)))


@functools.lru_cache(maxsize=4)
def _networks(allowed: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(net, strict=False) for net in allowed]


class MetricsView(PortalPublicView):
    """``GET /metrics`` for the scraper. Anyone else gets a 404: its existence is not told.
    ``REMOTE_ADDR`` is the peer: put the scraper on the host or a private network."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if not _allowed(request):
            raise Http404
        return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
