"""The audit log's shapes over the API: query filters in, events out."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from audit.registry import all_actions

ACTOR_TYPES = ("user", "api_key", "system")


class AuditEventFilterSerializer(serializers.Serializer[Any]):
    """``?action=&actor_type=&actor_id=&target_type=&target_id=&since=&until=``.

    ``since`` is inclusive and ``until`` exclusive, both ISO 8601 (a time without an offset
    is UTC). ``validated_data`` holds the audit selector's keyword arguments.
    """

    action = serializers.CharField(required=False, max_length=64)
    actor_type = serializers.ChoiceField(choices=ACTOR_TYPES, required=False)
    actor_id = serializers.CharField(required=False, max_length=64)
    target_type = serializers.CharField(required=False, max_length=64)
    target_id = serializers.CharField(required=False, max_length=64)
    since = serializers.DateTimeField(required=False, source="occurred_after")
    until = serializers.DateTimeField(required=False, source="occurred_before")

    def validate_action(self, value: str) -> str:
        if value not in {action.name for action in all_actions()}:
            raise serializers.ValidationError(f"Unknown action: {value}")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("occurred_after"), attrs.get("occurred_before")
        if since is not None and until is not None and since >= until:
            raise serializers.ValidationError({"until": ["Must be later than since"]})
        return attrs


class AuditEventListQuerySerializer(AuditEventFilterSerializer):
    """The filters plus ``?cursor=`` and ``?limit=`` (default 20, 1 to 100; more is a 422,
    like every collection)."""

    cursor = serializers.CharField(required=False, max_length=512)
    limit = serializers.IntegerField(
        required=False, min_value=1, default=lambda: settings.PAGE_SIZE
    )

    def validate_limit(self, value: int) -> int:
        if value > settings.MAX_PAGE_SIZE:  # refused like every collection, not capped
            raise serializers.ValidationError(f"Must be at most {settings.MAX_PAGE_SIZE}")
        return value


# Declared fields are taken out of the class by DRF's metaclass, so names that Field and
# Serializer also use as attributes (label, context, data) are safe here; mypy cannot know.


class AuditActorSerializer(serializers.Serializer[Any]):
    type = serializers.CharField(source="actor_type")
    id = serializers.CharField(source="actor_id")
    label = serializers.CharField(source="actor_label")  # type: ignore[assignment]


class AuditTargetSerializer(serializers.Serializer[Any]):
    type = serializers.CharField(source="target_type")
    id = serializers.CharField(source="target_id")
    label = serializers.CharField(source="target_label")  # type: ignore[assignment]


class AuditContextSerializer(serializers.Serializer[Any]):
    ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    request_id = serializers.CharField()


class AuditEventSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    action = serializers.CharField()
    actor = AuditActorSerializer(source="*")
    target = AuditTargetSerializer(source="*")
    context = AuditContextSerializer(source="*")  # type: ignore[assignment]
    metadata = serializers.JSONField()


class CursorPaginationSerializer(serializers.Serializer[Any]):
    next_cursor = serializers.CharField(allow_null=True)
    has_next = serializers.BooleanField()
    limit = serializers.IntegerField()


@extend_schema_serializer(many=False)  # the list answers ONE page object, not an array of them
class AuditEventPageSerializer(serializers.Serializer[Any]):
    """Documentation of the list's answer: the audit log pages by cursor, not by page."""

    data = AuditEventSerializer(many=True)  # type: ignore[assignment]
    pagination = CursorPaginationSerializer()
