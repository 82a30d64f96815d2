import functools
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
    # The request's OrgContext: who, in which org, with which role and actions. The schema of
    # GET /api/users/me; the view answers with ``me_representation``, the same body.
    id = serializers.IntegerField(source="membership.user_id")
    email = serializers.EmailField(source="membership.user.email")
    name = serializers.CharField(source="membership.user.name")
    org = MeOrgSerializer()
    role = serializers.CharField()
    actions = _SortedListField(child=serializers.CharField())
    credential = serializers.ChoiceField(choices=["jwt", "api_key", "session"])


@functools.lru_cache(maxsize=256)
def _sorted_actions(actions: frozenset[str]) -> tuple[str, ...]:
    # The same few sets (a role's actions, narrowed by a key's scopes) on every request.
    return tuple(str(action) for action in sorted(actions))


def me_representation(context: Any) -> dict[str, Any]:
    """``MeSerializer(context).data``, built directly: the hottest body of the API.

    DRF deep-copies a serializer's declared fields for every instance (and nested ones
    again), which cost more than the rest of the view (~130 µs a request). The test suite
    holds the two equal for every kind of credential.
    """
    return me_representation_of(me_values(context))


# What the body shows, in one tuple: (user id, email, name, org id, slug, org name, role,
# actions, credential). The body is a function of these values and of nothing else.
MeValues = tuple[Any, Any, Any, Any, Any, Any, Any, frozenset[str], str]


def me_values(context: Any) -> MeValues:
    membership = context.membership
    user = membership.user
    org = membership.org
    return (
        membership.user_id, user.email, user.name, org.id, org.slug, org.name,
        membership.role, context.actions, context.credential,
    )  # fmt: skip


def me_representation_of(values: MeValues) -> dict[str, Any]:
    user_id, email, name, org_id, slug, org_name, role, actions, credential = values
    return {
        "id": int(user_id),
        "email": str(email),
        "name": str(name),
        "org": {"id": int(org_id), "slug": str(slug), "name": str(org_name)},
        "role": str(role),
        "actions": list(_sorted_actions(actions)),
        "credential": credential,
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


# --- The second factor (accounts/mfa_api.py) ----------------------------------------------


class MfaCodeSerializer(serializers.Serializer[Any]):
    code = StrictCharField(
        max_length=32, help_text="Six digits from the authenticator app, or a recovery code"
    )


class MfaLoginSerializer(MfaCodeSerializer):
    mfa_token = StrictCharField(max_length=512, help_text="details.mfa_token of the login's 401")


class MfaDisableSerializer(MfaCodeSerializer):
    password = StrictCharField(
        max_length=1024, trim_whitespace=False, allow_control_characters=True
    )


class MfaStatusSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField(help_text="A confirmed authenticator app is on")
    enrolled_at = serializers.DateTimeField(allow_null=True)
    recovery_codes_remaining = serializers.IntegerField()
    required_by = serializers.ListField(
        child=serializers.CharField(),
        help_text="Slugs of my organizations that require a second factor",
    )


class MfaEnrollmentSerializer(serializers.Serializer[Any]):
    secret = serializers.CharField(help_text="Base32 secret, to type into an app by hand")
    otpauth_uri = serializers.CharField(help_text="otpauth://totp/Tenantry:<email>?...")
    qr_svg = serializers.CharField(help_text="The otpauth URI as an SVG QR code")


class RecoveryCodesSerializer(serializers.Serializer[Any]):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(),
        help_text="Single-use codes, shown this once: store them somewhere safe",
    )
