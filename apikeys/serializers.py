from typing import Any

from django.utils import timezone
from rest_framework import serializers

from apikeys.models import APIKey
from orgs.fields import StrictCharField
from orgs.roles import ACTIONS


class CreatorSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class APIKeySerializer(serializers.ModelSerializer[APIKey]):
    """A key as lists show it: never the secret, only its prefix and last four."""

    status = serializers.SerializerMethodField()
    created_by = CreatorSerializer(read_only=True, allow_null=True)
    replaced_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = APIKey
        fields = [
            "id", "name", "prefix", "last_four", "env", "status", "scopes",
            "allowed_origins", "allowed_ips", "rate_limit", "created_by", "created_at",
            "expires_at", "last_used_at", "last_used_ip", "revoked_at", "replaced_by_id",
        ]  # fmt: skip
        read_only_fields = fields

    def get_status(self, obj: APIKey) -> str:
        return obj.status_at(timezone.now())


class APIKeyCreatedSerializer(APIKeySerializer):
    key = serializers.CharField(help_text="The secret. Shown in this response only.")

    class Meta(APIKeySerializer.Meta):
        fields = [*APIKeySerializer.Meta.fields, "key"]


class APIKeyCreateSerializer(serializers.Serializer[Any]):
    name = StrictCharField(max_length=100)
    env = serializers.ChoiceField(choices=["live", "test"], default="live")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(ACTIONS)),
        required=False,
        allow_null=True,
        default=None,
    )
    allowed_origins = serializers.ListField(
        child=StrictCharField(max_length=255), max_length=50, required=False, default=list
    )
    allowed_ips = serializers.ListField(
        child=StrictCharField(max_length=64), max_length=50, required=False, default=list
    )
    rate_limit = serializers.CharField(
        max_length=32, required=False, allow_blank=True, allow_null=True,
        help_text="This key's own limit, e.g. 100/m or 300/15m; at most the org's per-key "
        "rate. Blank: the org's.",
    )  # fmt: skip


class APIKeyUpdateSerializer(serializers.Serializer[Any]):
    name = StrictCharField(max_length=100, required=False)
    allowed_origins = serializers.ListField(
        child=StrictCharField(max_length=255), max_length=50, required=False
    )
    allowed_ips = serializers.ListField(
        child=StrictCharField(max_length=64), max_length=50, required=False
    )
    rate_limit = serializers.CharField(
        max_length=32, required=False, allow_blank=True, allow_null=True,
        help_text="This key's own limit, e.g. 100/m or 300/15m; at most the org's per-key "
        "rate. Blank: the org's.",
    )  # fmt: skip


class APIKeyRollSerializer(serializers.Serializer[Any]):
    grace_seconds = serializers.IntegerField(min_value=0, max_value=7 * 24 * 3600, default=0)


class VerifySerializer(serializers.Serializer[Any]):
    token = StrictCharField(max_length=4096)


class PublicUserSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()


class PublicMembershipSerializer(serializers.Serializer[Any]):
    role = serializers.CharField()
    status = serializers.CharField()


class VerifyResultSerializer(serializers.Serializer[Any]):
    valid = serializers.BooleanField()
    user = PublicUserSerializer(allow_null=True)
    membership = PublicMembershipSerializer(allow_null=True)


class PublicOrgSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()


class PublicMemberSerializer(serializers.Serializer[Any]):
    # A member of the key's org: the user's fields and, nested, the membership's.
    id = serializers.IntegerField(source="user_id")
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")
    membership = PublicMembershipSerializer(source="*")


class LeakReportSerializer(serializers.Serializer[Any]):
    token = StrictCharField(max_length=512)
    type = StrictCharField(max_length=100, required=False, default="", allow_blank=True)
    url = StrictCharField(max_length=2048, required=False, default="", allow_blank=True)
    # "source" is the partner format's name; DRF pops declared fields, so no clash at runtime.
    source = StrictCharField(  # type: ignore[assignment]
        max_length=100, required=False, default="", allow_blank=True
    )


class LeakReceiptSerializer(serializers.Serializer[Any]):
    received = serializers.IntegerField()
