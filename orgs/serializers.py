from typing import Any

from django.utils import timezone
from rest_framework import serializers

from orgs.fields import StrictBooleanField, StrictCharField, StrictEmailField, StrictSlugField
from orgs.models import Invitation, Membership, Organization
from orgs.roles import Role

ROLE_CHOICES = [r.value for r in Role]


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "created_at", "jwt_enabled", "mfa_required"]
        read_only_fields = fields


class MyOrganizationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="org.id")
    slug = serializers.CharField(source="org.slug")
    name = serializers.CharField(source="org.name")
    role = serializers.CharField()


class OrganizationCreateSerializer(serializers.Serializer[Any]):
    slug = StrictSlugField(min_length=2, max_length=64)
    name = StrictCharField(max_length=200)


class OrganizationUpdateSerializer(serializers.Serializer[Any]):
    name = StrictCharField(max_length=200, required=False)
    jwt_enabled = StrictBooleanField(required=False)


class OrganizationSecuritySerializer(serializers.ModelSerializer[Organization]):
    """The org's sign-in security settings: owners change them, admins read them."""

    default_role = serializers.CharField(
        read_only=True, help_text="The role people joining by email domain get (never owner)"
    )

    class Meta:
        model = Organization
        fields = ["jwt_enabled", "allowed_email_domains", "default_role", "mfa_required"]
        read_only_fields = fields
        extra_kwargs = {
            "jwt_enabled": {"help_text": "Off: JWT sign-in and JWT requests answer as refused"},
            "mfa_required": {
                "help_text": "Members who sign in with a password must use a second factor "
                "(those without one enroll at their next portal sign-in; Google sign-in is "
                "trusted to Google)"
            },
            "allowed_email_domains": {
                "help_text": "Whoever signs in with Google under a verified address at one of "
                "these domains joins the organization as default_role"
            },
        }


class OrganizationSecurityUpdateSerializer(serializers.Serializer[Any]):
    jwt_enabled = StrictBooleanField(required=False)
    allowed_email_domains = serializers.ListField(
        child=StrictCharField(max_length=253), max_length=100, required=False
    )
    default_role = serializers.ChoiceField(
        choices=[r for r in ROLE_CHOICES if r != Role.OWNER.value], required=False
    )
    mfa_required = StrictBooleanField(required=False)


class MemberUserSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    user = MemberUserSerializer(read_only=True)
    org_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "org_id", "user", "role", "status", "created_at"]
        read_only_fields = fields


class MembershipUpdateSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    status = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "created_at", "expires_at", "accepted_at"]
        read_only_fields = fields

    def get_status(self, obj: Invitation) -> str:
        return obj.status_at(timezone.now())


class InvitationCreateSerializer(serializers.Serializer[Any]):
    email = StrictEmailField(max_length=254, error_messages={"invalid": "Invalid email"})
    role = serializers.ChoiceField(choices=ROLE_CHOICES)
