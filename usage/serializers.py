from datetime import timedelta
from typing import Any

from rest_framework import serializers

from usage.counters import today

MAX_DAYS = 366


class UsageQuerySerializer(serializers.Serializer[Any]):
    key_id = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    # "from" is a Python keyword: the field is declared under it below.
    to = serializers.DateField(required=False, default=None, allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False, default=None, allow_null=True)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("to") or today()
        start = attrs.get("from") or end - timedelta(days=29)
        if start > end:
            raise serializers.ValidationError({"from": ["Must not be after to"]})
        if (end - start).days >= MAX_DAYS:
            raise serializers.ValidationError({"from": [f"At most {MAX_DAYS} days at once"]})
        return {"key_id": attrs.get("key_id"), "start": start, "end": end}


class UsageTotalsSerializer(serializers.Serializer[Any]):
    requests = serializers.IntegerField()
    status_2xx = serializers.IntegerField()
    status_3xx = serializers.IntegerField()
    status_4xx = serializers.IntegerField()
    status_5xx = serializers.IntegerField()


class UsageDaySerializer(UsageTotalsSerializer):
    day = serializers.DateField()


class UsageSerializer(serializers.Serializer[Any]):
    org_id = serializers.IntegerField()
    key_id = serializers.IntegerField(allow_null=True, help_text="null: the whole org")
    to = serializers.DateField()
    days = UsageDaySerializer(many=True, help_text="Every day of the range, oldest first")
    totals = UsageTotalsSerializer(help_text="The range's sums")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField()
        return fields
