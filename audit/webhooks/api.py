"""Webhook endpoints over the API. Thin: parse, call one service, shape.

``webhook:read`` lists endpoints and their delivery log, ``webhook:write`` changes them;
each change goes through the audited services in ``audit.webhooks.services``.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from audit.webhooks import serializers as s
from audit.webhooks.models import WebhookDelivery, WebhookEndpoint
from audit.webhooks.services import (
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_send_test,
    webhook_endpoint_update,
)
from orgs.bases import OrgScopedViewSet, validated
from orgs.context import acting

NO_STORE = {"Cache-Control": "no-store"}
DELIVERY_STATUSES = tuple(WebhookDelivery.Status.values)


@extend_schema(tags=["webhooks"])
class WebhookEndpointViewSet(OrgScopedViewSet[WebhookEndpoint]):
    model = WebhookEndpoint
    serializer_class = s.WebhookEndpointSerializer
    required_actions = {
        "list": "webhook:read",
        "retrieve": "webhook:read",
        "deliveries": "webhook:read",
        "create": "webhook:write",
        "partial_update": "webhook:write",
        "destroy": "webhook:write",
        "send_test": "webhook:write",
        "retry_delivery": "webhook:write",
    }
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    @extend_schema(operation_id="webhooks_list", summary="List endpoints (never their secret)")
    def list(self, request: Request) -> Response:
        return self.page()

    @extend_schema(operation_id="webhooks_get")
    def retrieve(self, request: Request, pk: str) -> Response:
        return self.one()

    @extend_schema(
        operation_id="webhooks_create",
        request=s.WebhookEndpointCreateSerializer,
        responses={201: s.WebhookEndpointCreatedSerializer},
        summary="Add an endpoint; its signing secret is in this response only",
    )
    def create(self, request: Request) -> Response:
        data = validated(s.WebhookEndpointCreateSerializer, request)
        created = webhook_endpoint_create(org=self.org, actor=acting(request), **data)
        body = {**self.get_serializer(created.endpoint).data, "secret": created.secret}
        return Response(body, status=status.HTTP_201_CREATED, headers=NO_STORE)

    @extend_schema(
        operation_id="webhooks_update",
        request=s.WebhookEndpointUpdateSerializer,
        responses={200: s.WebhookEndpointSerializer},
        summary="Change an endpoint's URL, description, event types or enabled state",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        data = validated(s.WebhookEndpointUpdateSerializer, request)
        endpoint = webhook_endpoint_update(
            org=self.org, actor=acting(request), endpoint=endpoint, **data
        )
        return Response(self.get_serializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_delete",
        responses={204: None},
        summary="Remove an endpoint; its pending deliveries are never sent",
    )
    def destroy(self, request: Request, pk: str) -> Response:
        webhook_endpoint_delete(org=self.org, actor=acting(request), endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="webhooks_deliveries",
        parameters=[OpenApiParameter("status", str, enum=DELIVERY_STATUSES)],
        responses={200: s.WebhookDeliverySerializer(many=True)},
        summary="The endpoint's delivery log, newest first",
    )
    @action(detail=True, methods=["get"], serializer_class=s.WebhookDeliverySerializer)
    def deliveries(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        deliveries = (
            WebhookDelivery.objects.for_org(self.org)
            .filter(endpoint=endpoint)
            .select_related("event")
            .defer("event__payload")
        )
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in DELIVERY_STATUSES:
                raise ValidationError(
                    {"status": [f"Must be one of {', '.join(DELIVERY_STATUSES)}"]}
                )
            deliveries = deliveries.filter(status=wanted)
        # ?sort=, newest first (the sort filter reads the view, not the queryset's model)
        page = self.paginate_queryset(self.filter_queryset(deliveries))  # type: ignore[arg-type]
        return self.get_paginated_response(s.WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_send_test",
        request=None,
        responses={202: s.WebhookDeliverySerializer},
        summary="Queue a webhook.tested event for this endpoint only (whatever its filter)",
    )
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request: Request, pk: str) -> Response:
        delivery = webhook_endpoint_send_test(
            org=self.org, actor=acting(request), endpoint=self.get_object()
        )
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="webhooks_retry_delivery",
        request=None,
        responses={202: s.WebhookDeliverySerializer},
        summary="Send a failed or dead delivery again now",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="deliveries/<int:delivery_id>/retry",
        url_name="retry-delivery",
    )
    def retry_delivery(self, request: Request, pk: str, delivery_id: int) -> Response:
        endpoint = self.get_object()
        try:
            delivery = WebhookDelivery.objects.for_org(self.org).get(
                endpoint=endpoint, pk=delivery_id
            )
        except WebhookDelivery.DoesNotExist:
            raise NotFound() from None
        webhook_delivery_retry(org=self.org, actor=acting(request), delivery=delivery)
        delivery.refresh_from_db()
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
