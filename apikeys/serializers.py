from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apikeys.models import APIKey
from apikeys.policy import RULES
from orgs.fields import StrictBooleanField, StrictCharField
from orgs.roles import ACTIONS, Role


def _listed(choices: list[str] | tuple[str, ...]) -> dict[str, Any]:
    # Inline enums (no components): they would collide by name across the per-role tables.
    return {"type": "array", "items": {"type": "string", "enum": list(choices)}}


class CreatorSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class APIKeySerializer(serializers.ModelSerializer[APIKey]):
    """A key as lists show it: never the secret, only its prefix and last four."""

    status = serializers.SerializerMethodField()
    created_by = CreatorSerializer(read_only=True, allow_null=True)
    replaced_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    out_of_policy = serializers.SerializerMethodField(
        help_text="The codes of the organization's API-key policy rules this active key is "
        "outside of (made before the rule, or the creator's role changed); empty: compliant"
    )

    class Meta:
        model = APIKey
        fields = [
            "id", "name", "prefix", "last_four", "env", "status", "scopes",
            "allowed_origins", "allowed_ips", "rate_limit", "created_by", "created_at",
            "expires_at", "last_used_at", "last_used_ip", "revoked_at", "replaced_by_id",
            "out_of_policy",
        ]  # fmt: skip
        read_only_fields = fields

    def get_status(self, obj: APIKey) -> str:
        return obj.status_at(timezone.now())

    @extend_schema_field(_listed(RULES))
    def get_out_of_policy(self, obj: APIKey) -> list[str]:
        flags = self.context.get("policy_flags")
        return flags.rules_for(obj) if flags is not None else []


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
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When the new key expires; absent or null: when the old one did",
    )


def _per_role(choices: list[str], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {r.value: {**_listed(choices), "nullable": True} for r in Role},
        "additionalProperties": False,
    }


class _PerRoleField(serializers.JSONField):
    """A role -> list table; the service checks roles and values. Shown with every role
    (null: no restriction for that role)."""

    def to_representation(self, value: Any) -> Any:
        table = value or {}
        return {r.value: table.get(r.value) for r in Role}


@extend_schema_field(
    _per_role(
        sorted(ACTIONS),
        "Rule scope_ceiling: per role, the actions a new key of a member with that role may "
        "hold (it must name its scopes); a role absent or null has no ceiling",
    )
)
class ScopeCeilingsField(_PerRoleField):
    pass


@extend_schema_field(
    _per_role(
        ["live", "test"],
        "Rule environment: per role, the environments a member with that role may create "
        "keys in; a role absent or null may create both, an empty list none",
    )
)
class AllowedEnvironmentsField(_PerRoleField):
    pass


class APIKeyPolicySerializer(serializers.Serializer[Any]):
    """The org's API-key policy. Every field empty (null, ``{}``, false) means no
    restriction; that is the policy of an org that never set one."""

    max_lifetime_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, allow_null=True,
        help_text="New keys must expire within this many days (rule max_lifetime)",
    )  # fmt: skip
    revoke_unused_after_days = serializers.IntegerField(
        min_value=14, max_value=3650, required=False, allow_null=True,
        help_text="Keys unused this many days are revoked by the daily sweep, a week after "
        "the owners are emailed (rule revoke_unused)",
    )  # fmt: skip
    scope_ceilings = ScopeCeilingsField(required=False)
    max_active_keys_per_member = serializers.IntegerField(
        min_value=1, max_value=10_000, required=False, allow_null=True,
        help_text="Active keys a member may hold at once (rule max_active_keys)",
    )  # fmt: skip
    allowed_environments = AllowedEnvironmentsField(required=False)
    require_ip_allowlist_for_live = StrictBooleanField(
        required=False, help_text="Live keys must carry an IP allow-list (rule live_ip_allowlist)"
    )


class OutOfPolicyKeySerializer(serializers.Serializer[Any]):
    """``{"key": APIKey, "rules": [...]}``: a key and the rules it is outside of."""

    id = serializers.IntegerField(source="key.id")
    name = serializers.CharField(source="key.name")
    prefix = serializers.CharField(source="key.prefix")
    last_four = serializers.CharField(source="key.last_four")
    env = serializers.CharField(source="key.env")
    created_by = CreatorSerializer(source="key.created_by", allow_null=True)
    out_of_policy = serializers.SerializerMethodField(help_text="The rules the key is outside of")

    @extend_schema_field(_listed(RULES))
    def get_out_of_policy(self, entry: dict[str, Any]) -> list[str]:
        return list(entry["rules"])


class APIKeyPolicyChangedSerializer(APIKeyPolicySerializer):
    out_of_policy_keys = OutOfPolicyKeySerializer(
        many=True,
        help_text="Active keys this policy leaves outside it, with the rules of each. They "
        "are not revoked: revoke or roll them (only revoke_unused acts by itself).",
    )


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
