"""Webhooks in the portal: endpoints, create (secret shown once), delivery log, test event,
retry now, delete. Thin: the same services as ``audit.webhooks.api``."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from audit.webhooks.forms import WebhookEndpointForm
from audit.webhooks.models import WebhookDelivery, WebhookEndpoint
from audit.webhooks.services import (
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_send_test,
    webhook_endpoint_update,
)
from orgs.forms import apply_service_errors
from orgs.portal import PortalView

SECRET_SESSION_KEY = "portal_new_webhook_secret"
PAGE_SIZE = 25


class WebhookPortalView(PortalView):
    def endpoint(self, pk: int) -> WebhookEndpoint:
        return get_object_or_404(WebhookEndpoint.objects.for_org(self.org), pk=pk)


class WebhookListView(WebhookPortalView):
    required_actions = {"get": "webhook:read"}

    def get(self, request: HttpRequest) -> HttpResponse:
        endpoints = WebhookEndpoint.objects.for_org(self.org).order_by("-created_at", "-pk")
        return self.render_page(
            "portal/webhooks/list.html",
            {"endpoints": endpoints, "may_write": self.allows("webhook:write")},
        )


class WebhookCreateView(WebhookPortalView):
    required_actions = {"get": "webhook:write", "post": "webhook:write"}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(WebhookEndpointForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        """The same service as ``POST /api/webhooks``."""
        form = WebhookEndpointForm(request.POST)
        if form.is_valid():
            try:
                created = webhook_endpoint_create(
                    org=self.org, actor=self.actor(), **form.cleaned_data
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                request.session[SECRET_SESSION_KEY] = {
                    "id": created.endpoint.pk,
                    "secret": created.secret,
                }
                return redirect("portal-webhook", pk=created.endpoint.pk)
        return self.page(form, status=422)

    def page(self, form: WebhookEndpointForm, *, status: int = 200) -> HttpResponse:
        return self.render_page("portal/webhooks/create.html", {"form": form}, status=status)


class WebhookDetailView(WebhookPortalView):
    """One endpoint and its delivery log; right after creating it, its secret, once."""

    required_actions = {"get": "webhook:read"}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = self.endpoint(pk)
        secret = None
        handed = request.session.get(SECRET_SESSION_KEY)
        if isinstance(handed, dict) and handed.get("id") == endpoint.pk:
            secret = request.session.pop(SECRET_SESSION_KEY)["secret"]
        deliveries = (
            WebhookDelivery.objects.for_org(self.org)
            .filter(endpoint=endpoint)
            .select_related("event")
            .defer("event__payload")
            .order_by("-created_at", "-pk")
        )
        page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
        response = self.render_page(
            "portal/webhooks/detail.html",
            {
                "endpoint": endpoint,
                "secret": secret,
                "page": page,
                "may_write": self.allows("webhook:write"),
            },
        )
        if secret is not None:
            response["Cache-Control"] = "no-store"
        return response


class WebhookTestView(WebhookPortalView):
    required_actions = {"post": "webhook:write"}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = self.endpoint(pk)
        webhook_endpoint_send_test(org=self.org, actor=self.actor(), endpoint=endpoint)
        messages.success(request, "Test event queued; it appears in the log below once sent")
        return redirect("portal-webhook", pk=endpoint.pk)


class WebhookEnabledView(WebhookPortalView):
    """Switch an endpoint on or off: the same service as ``PATCH /api/webhooks/{id}``."""

    required_actions = {"post": "webhook:write"}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = self.endpoint(pk)
        enabled = request.POST.get("enabled") == "on"
        webhook_endpoint_update(
            org=self.org, actor=self.actor(), endpoint=endpoint, enabled=enabled
        )
        state = "enabled" if enabled else "disabled; events are not sent to it"
        messages.success(request, f"Endpoint {endpoint} {state}")
        return redirect("portal-webhook", pk=endpoint.pk)


class WebhookRetryView(WebhookPortalView):
    required_actions = {"post": "webhook:write"}

    def post(self, request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
        endpoint = self.endpoint(pk)
        delivery = get_object_or_404(
            WebhookDelivery.objects.for_org(self.org).filter(endpoint=endpoint), pk=delivery_pk
        )
        try:
            webhook_delivery_retry(org=self.org, actor=self.actor(), delivery=delivery)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Delivery queued to be sent again now")
        return redirect("portal-webhook", pk=endpoint.pk)


class WebhookDeleteView(WebhookPortalView):
    required_actions = {"get": "webhook:write", "post": "webhook:write"}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = self.endpoint(pk)
        return self.render_page(
            "portal/components/confirm_page.html",
            {
                "title": f"Delete the webhook endpoint {endpoint}?",
                "body": "It stops receiving events at once; deliveries still pending are dropped.",
                "button": "Delete endpoint",
                "action": request.path,
                "cancel": reverse("portal-webhook", args=[endpoint.pk]),
            },
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = self.endpoint(pk)
        webhook_endpoint_delete(org=self.org, actor=self.actor(), endpoint=endpoint)
        messages.success(request, f"Webhook endpoint {endpoint} deleted")
        return redirect("portal-webhooks")
