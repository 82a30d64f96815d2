from typing import Any

from rest_framework import serializers

from accounts.signin import TokenPair
from orgs.context import OrgContext
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
    id = serializers.IntegerField()
    org_id = serializers.IntegerField()
    org_name = serializers.CharField()
    email = serializers.EmailField()


class TokenPairSerializer(serializers.Serializer[Any]):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    expires_in = serializers.IntegerField()
    user = LoginUserSerializer()

    @staticmethod
    def shape(pair: TokenPair) -> dict[str, Any]:
        m = pair.membership
        return {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_in": pair.expires_in,
            "user": {
                "id": m.user_id,
                "org_id": m.org_id,
                "org_name": m.org.name,
                "email": m.user.email,
            },
        }


class MeOrgSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class MeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    org = MeOrgSerializer()
    role = serializers.CharField()
    actions = serializers.ListField(child=serializers.CharField())
    credential = serializers.ChoiceField(choices=["jwt", "api_key", "session"])

    @staticmethod
    def shape(context: OrgContext) -> dict[str, Any]:
        user = context.membership.user
        org = context.org
        return {
            "id": user.pk,
            "email": user.email,
            "name": user.name,
            "org": {"id": org.pk, "slug": org.slug, "name": org.name},
            "role": context.role,
            "actions": sorted(context.actions),
            "credential": context.credential,
        }


class SessionSerializer(serializers.Serializer[Any]):
    """One of the person's sign-ins: a browser session or an API sign-in (token family)."""

    id = serializers.CharField(help_text="bs_... (browser session) or tf_... (API sign-in)")
    kind = serializers.ChoiceField(choices=["browser", "api"])
    created_at = serializers.DateTimeField(allow_null=True)
    last_seen_at = serializers.DateTimeField(
        allow_null=True, help_text="Updated at most every few minutes; null for API sign-ins"
    )
    ip = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField(allow_blank=True)
    current = serializers.BooleanField(help_text="The sign-in this request came with")
    org_id = serializers.IntegerField(allow_null=True, help_text="API sign-ins are in one org")
