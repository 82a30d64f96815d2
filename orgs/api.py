"""Organizations, members and invitations over the API. Thin: parse, call one service."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from orgs import serializers as s
from orgs.bases import OrgScopedViewSet, OrgView, SignedInView, validated
from orgs.context import acting, org_context
from orgs.models import Invitation, Membership, Organization
from orgs.ratelimits import enforce_invitation, enforce_org_creation
from orgs.services import (
    invitation_create,
    invitation_resend,
    invitation_revoke,
    membership_remove,
    membership_set_role,
    org_create,
    org_security_update,
    org_update,
)


class MyOrganizationsView(ListModelMixin, SignedInView, GenericAPIView):
    """The caller's organizations (GET) and creating a new one (POST)."""

    serializer_class = s.MyOrganizationSerializer
    ordering_fields = ["created_at"]
    ordering = ["created_at"]

    def get_queryset(self) -> QuerySet[Membership]:
        # Spans orgs on purpose: a user's own memberships, keyed by the user.
        return Membership.dangerously_unscoped.filter(
            user=org_context(self.request).membership.user, status=Membership.Status.ACTIVE
        ).select_related("org")

    @extend_schema(operation_id="orgs_list", tags=["orgs"], summary="Organizations I belong to")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.MyOrganizationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="orgs_create",
        request=s.OrganizationCreateSerializer,
        responses={201: s.OrganizationSerializer},
        tags=["orgs"],
        summary="Create an organization; the caller becomes its owner",
    )
    def post(self, request: Request) -> Response:
        enforce_org_creation(request, user_id=org_context(request).membership.user_id)
        data = validated(s.OrganizationCreateSerializer, request)
        org = org_create(
            actor=acting(request),
            slug=data["slug"],
            name=data["name"],
            owner=org_context(request).membership.user,
        )
        return Response(s.OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)


class CurrentOrganizationView(OrgView, GenericAPIView):
    """The organization of the credential."""

    required_actions = {"get": "org:read", "patch": "org:write"}
    serializer_class = s.OrganizationSerializer
    pagination_class = None

    @extend_schema(operation_id="org_get", tags=["orgs"], summary="The current organization")
    def get(self, request: Request) -> Response:
        return Response(s.OrganizationSerializer(org_context(request).org).data)

    @extend_schema(
        operation_id="org_update",
        request=s.OrganizationUpdateSerializer,
        responses={200: s.OrganizationSerializer},
        tags=["orgs"],
        summary="Rename the organization or switch JWT sign-in on or off",
        description="Renaming needs org:write (owners, admins); jwt_enabled is a security "
        "setting and needs security:write (owners): a body naming it is refused (403) for "
        "anyone else, and nothing in it is applied.",
    )
    def patch(self, request: Request) -> Response:
        data = validated(s.OrganizationUpdateSerializer, request)
        context = org_context(request)
        org: Organization = org_update(org=context.org, actor=acting(request), by=context, **data)
        return Response(s.OrganizationSerializer(org).data)


class OrganizationSecurityView(OrgView, GenericAPIView):
    """The org's sign-in security settings: admins read them, owners change them."""

    required_actions = {"get": "security:read", "patch": "security:write"}
    serializer_class = s.OrganizationSecuritySerializer
    pagination_class = None

    @extend_schema(
        operation_id="org_security_get",
        tags=["orgs"],
        summary="The organization's sign-in security settings",
    )
    def get(self, request: Request) -> Response:
        return Response(s.OrganizationSecuritySerializer(org_context(request).org).data)

    @extend_schema(
        operation_id="org_security_update",
        request=s.OrganizationSecurityUpdateSerializer,
        responses={200: s.OrganizationSecuritySerializer},
        tags=["orgs"],
        summary="Switch JWT sign-in, set who may join by email domain, require a second "
        "factor (owners)",
        description="Fields left out keep their value; allowed_email_domains replaces the "
        "whole list (empty: invitations only). Each change is audited with before/after.",
    )
    def patch(self, request: Request) -> Response:
        data = validated(s.OrganizationSecurityUpdateSerializer, request)
        context = org_context(request)
        org = org_security_update(org=context.org, actor=acting(request), by=context, **data)
        return Response(s.OrganizationSecuritySerializer(org).data)


@extend_schema(tags=["members"])
class MemberViewSet(OrgScopedViewSet[Membership]):
    model = Membership
    serializer_class = s.MembershipSerializer
    required_actions = {
        "list": "member:read",
        "retrieve": "member:read",
        "partial_update": "member:write",
        "destroy": "member:write",
    }
    ordering_fields = ["created_at", "role"]
    ordering = ["created_at"]

    def narrow_queryset(self, queryset: QuerySet[Membership]) -> QuerySet[Membership]:
        queryset = queryset.select_related("user")
        role = self.request.query_params.get("role")
        if role and role not in s.ROLE_CHOICES:
            raise ValidationError({"role": [f"Must be one of: {', '.join(s.ROLE_CHOICES)}"]})
        return queryset.filter(role=role) if role else queryset

    @extend_schema(
        operation_id="members_list",
        parameters=[
            OpenApiParameter(
                "role", str, enum=s.ROLE_CHOICES, description="Only members with this role"
            )
        ],
    )
    def list(self, request: Request) -> Response:
        return self.page()

    @extend_schema(operation_id="members_get")
    def retrieve(self, request: Request, pk: str) -> Response:
        return self.one()

    @extend_schema(
        operation_id="members_update",
        request=s.MembershipUpdateSerializer,
        responses={200: s.MembershipSerializer},
        summary="Change a member's role (never above your own; the last owner stays)",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        data = validated(s.MembershipUpdateSerializer, request)
        with self.outside_the_request_transaction():  # pre-write hooks wait on the network
            membership = membership_set_role(
                org=self.org,
                actor=acting(request),
                membership=membership,
                role=data["role"],
                by=self.org_context,
            )
        return Response(self.get_serializer(membership).data)

    @extend_schema(operation_id="members_remove", responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        membership_remove(
            org=self.org,
            actor=acting(request),
            membership=self.get_object(),
            by=self.org_context,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["invitations"])
class InvitationViewSet(OrgScopedViewSet[Invitation]):
    model = Invitation
    serializer_class = s.InvitationSerializer
    required_actions = {
        "list": "member:read",
        "retrieve": "member:read",
        "create": "member:write",
        "destroy": "member:write",
        "resend": "member:write",
    }
    ordering_fields = ["created_at", "expires_at"]
    ordering = ["-created_at"]

    @extend_schema(operation_id="invitations_list")
    def list(self, request: Request) -> Response:
        return self.page()

    @extend_schema(operation_id="invitations_get")
    def retrieve(self, request: Request, pk: str) -> Response:
        return self.one()

    @extend_schema(
        operation_id="invitations_create",
        request=s.InvitationCreateSerializer,
        responses={201: s.InvitationSerializer},
        summary="Invite someone by email; the token is emailed to them, and only to them",
        description=(
            "The token is never returned to the inviter: holding it is the invitee's proof "
            "that they control the mailbox."
        ),
    )
    def create(self, request: Request) -> Response:
        enforce_invitation(
            request, org_id=self.org.pk, inviter_id=self.org_context.membership.user_id
        )
        data = validated(s.InvitationCreateSerializer, request)
        with self.outside_the_request_transaction():  # pre-write hooks wait on the network
            invitation, _token = invitation_create(
                org=self.org,
                actor=acting(request),
                by=self.org_context,
                email=data["email"],
                role=data["role"],
            )
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="invitations_revoke", responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        invitation_revoke(org=self.org, actor=acting(request), invitation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="invitations_resend",
        request=None,
        responses={200: s.InvitationSerializer},
        summary="Email a pending invitation again, with a new link and a fresh expiry",
        description="The previous link stops working. The token goes to the invitee only.",
    )
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str) -> Response:
        invitation = invitation_resend(
            org=self.org, actor=acting(request), by=self.org_context, invitation=self.get_object()
        )
        return Response(s.InvitationSerializer(invitation).data)
