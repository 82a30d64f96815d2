"""Webhook endpoints and their delivery log over the API. The services validate URLs and
event types (https, no private addresses, registered actions); these only shape."""

from typing import Any

from rest_framework import serializers

from audit.webhooks.models import WebhookDelivery, WebhookEndpoint
from orgs.fields import StrictBooleanField, StrictCharField


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    """An endpoint as it is read back: never its signing secret."""

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "enabled", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        help_text="whsec_...: signs every delivery (Standard Webhooks). Returned once, here."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointCreateSerializer(serializers.Serializer[Any]):
    url = StrictCharField(trim_whitespace=True)
    description = StrictCharField(required=False, allow_blank=True, default="")
    event_types = serializers.ListField(
        child=StrictCharField(),
        required=False,
        default=list,
        help_text="Audit actions to deliver, e.g. api_key.created; empty means every event",
    )
    enabled = StrictBooleanField(required=False, default=True)


class WebhookEndpointUpdateSerializer(serializers.Serializer[Any]):
    url = StrictCharField(required=False, trim_whitespace=True)
    description = StrictCharField(required=False, allow_blank=True)
    event_types = serializers.ListField(child=StrictCharField(), required=False)
    enabled = StrictBooleanField(required=False)


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    event_id = serializers.CharField(source="event.public_id", help_text="The webhook-id sent")
    event_type = serializers.CharField(source="event.type")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields
