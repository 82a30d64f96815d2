from typing import Any

from rest_framework import serializers

from orgs.fields import StrictCharField, StrictEmailField, StrictSlugField


class LoginSerializer(serializers.Serializer[Any]):
    email = StrictEmailField(max_length=254, error_messages={"invalid": "Invalid email"})
    password = StrictCharField(
        max_length=1024, trim_whitespace=False, allow_control_characters=True
    )
    org_slug = StrictSlugField(max_length=64)


class RefreshSerializer(serializers.Serializer[Any]):
    refresh_token = StrictCharField(max_length=512)


class PasswordChangeSerializer(serializers.Serializer[Any]):
    current_password = StrictCharField(
        max_length=1024, trim_whitespace=False, allow_control_characters=True
    )
    new_password = StrictCharField(
        max_length=1024, trim_whitespace=False, allow_control_characters=True
    )


class InvitationAcceptSerializer(serializers.Serializer[Any]):
    token = StrictCharField(max_length=512)
    password = StrictCharField(
        max_length=1024, trim_whitespace=False, allow_control_characters=True
    )
    name = StrictCharField(max_length=200, required=False, default="", allow_blank=True)


class LoginUserSerializer(serializers.Serializer[Any]):
    # The signed-in member, from the pair's membership.
    id = serializers.IntegerField(source="user_id")
    org_id = serializers.IntegerField()
    org_name = serializers.CharField(source="org.name")
    email = serializers.EmailField(source="user.email")


class TokenPairSerializer(serializers.Serializer[Any]):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    expires_in = serializers.IntegerField()
    user = LoginUserSerializer(source="membership")


class MeOrgSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class _SortedListField(serializers.ListField):
    def to_representation(self, data: Any) -> list[Any]:
        return super().to_representation(sorted(data))


class MeSerializer(serializers.Serializer[Any]):
    # The request's OrgContext: who, in which org, with which role and actions.
    id = serializers.IntegerField(source="membership.user_id")
    email = serializers.EmailField(source="membership.user.email")
    name = serializers.CharField(source="membership.user.name")
    org = MeOrgSerializer()
    role = serializers.CharField()
    actions = _SortedListField(child=serializers.CharField())
    credential = serializers.ChoiceField(choices=["jwt", "api_key", "session"])
