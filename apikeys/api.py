"""Settings > API Keys, over the API. Thin: parse, call one service, shape."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from apikeys import serializers as s
from apikeys.models import APIKey
from apikeys.selectors import (
    STATUSES,
    PolicyFlags,
    UnknownStatus,
    api_key_policy_of,
    api_keys_visible,
    api_keys_with_status,
)
from apikeys.services import (
    api_key_create,
    api_key_policy_set,
    api_key_revoke,
    api_key_roll,
    api_key_update,
)
from orgs.bases import OrgScopedViewSet, OrgView, validated
from orgs.context import acting

NO_STORE = {"Cache-Control": "no-store"}


@extend_schema(tags=["api-keys"])
class APIKeyViewSet(OrgScopedViewSet[APIKey]):
    model = APIKey
    serializer_class = s.APIKeySerializer
    required_actions = {
        "list": "api_key:read",
        "retrieve": "api_key:read",
        "create": "api_key:write",
        "partial_update": "api_key:write",
        "destroy": "api_key:write",
        "roll": "api_key:write",
    }
    ordering_fields = ["created_at", "name", "last_used_at", "expires_at"]
    ordering = ["-created_at"]

    def get_serializer_context(self) -> dict[str, Any]:
        # Flags each key outside the org's API-key policy (the policy is read once).
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["policy_flags"] = PolicyFlags(self.org)
        return context

    def narrow_queryset(self, queryset: QuerySet[APIKey]) -> QuerySet[APIKey]:
        keys = api_keys_visible(queryset, context=self.org_context)
        wanted = self.request.query_params.get("status")
        if wanted is None or self.action != "list":
            return keys
        try:
            return api_keys_with_status(keys, wanted)
        except UnknownStatus as exc:
            raise ValidationError({"status": [str(exc)]}) from None

    @extend_schema(
        operation_id="api_keys_list",
        parameters=[OpenApiParameter("status", str, enum=list(STATUSES))],
        summary="List keys (never their secret); developers see their own",
    )
    def list(self, request: Request) -> Response:
        return self.page()

    @extend_schema(operation_id="api_keys_get")
    def retrieve(self, request: Request, pk: str) -> Response:
        return self.one()

    @extend_schema(
        operation_id="api_keys_create",
        request=s.APIKeyCreateSerializer,
        responses={201: s.APIKeyCreatedSerializer},
        summary="Create a key; the raw key is in this response only",
        description="The key must meet the organization's API-key policy "
        "(422 policy_violation, details.rules naming each rule it breaks).",
    )
    def create(self, request: Request) -> Response:
        data = validated(s.APIKeyCreateSerializer, request)
        with self.outside_the_request_transaction():  # pre-write hooks wait on the network
            key, raw = api_key_create(
                org=self.org,
                actor=acting(request),
                creator=self.org_context.membership,
                within=self.org_context.scopes,
                **data,
            )
        body = {**self.get_serializer(key).data, "key": raw}
        return Response(body, status=status.HTTP_201_CREATED, headers=NO_STORE)

    @extend_schema(
        operation_id="api_keys_update",
        request=s.APIKeyUpdateSerializer,
        responses={200: s.APIKeySerializer},
        summary="Rename a key or change its origin / IP allow-lists",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        key = self.get_object()
        data = validated(s.APIKeyUpdateSerializer, request)
        key = api_key_update(org=self.org, actor=acting(request), key=key, **data)
        return Response(self.get_serializer(key).data)

    @extend_schema(
        operation_id="api_keys_revoke",
        responses={204: None},
        summary="Revoke a key, irreversibly; it fails from the next request on",
    )
    def destroy(self, request: Request, pk: str) -> Response:
        api_key_revoke(org=self.org, actor=acting(request), key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="api_keys_roll",
        request=s.APIKeyRollSerializer,
        responses={201: s.APIKeyCreatedSerializer},
        summary="Replace one of your keys; the old one works until the grace period ends",
        description="Only the key's creator may roll it; others with api_key:manage revoke. "
        "The new key must meet the organization's API-key policy like a new one "
        "(422 policy_violation naming each rule otherwise).",
    )
    @action(detail=True, methods=["post"])
    def roll(self, request: Request, pk: str) -> Response:
        key = self.get_object()
        data = validated(s.APIKeyRollSerializer, request)
        with self.outside_the_request_transaction():  # pre-write hooks wait on the network
            new, raw = api_key_roll(
                org=self.org,
                actor=acting(request),
                key=key,
                grace_seconds=data["grace_seconds"],
                by=self.org_context,
                within=self.org_context.scopes,
                expires_at=data["expires_at"],
            )
        body = {**self.get_serializer(new).data, "key": raw}
        return Response(body, status=status.HTTP_201_CREATED, headers=NO_STORE)


class APIKeyPolicyView(OrgView, GenericAPIView):
    """The org's API-key policy: admins read it, owners change it."""

    required_actions = {"get": "security:read", "put": "security:write", "patch": "security:write"}
    serializer_class = s.APIKeyPolicySerializer
    pagination_class = None

    @extend_schema(
        operation_id="api_key_policy_get",
        tags=["api-keys"],
        summary="The organization's API-key policy (no restriction until an owner sets one)",
    )
    def get(self, request: Request) -> Response:
        return Response(s.APIKeyPolicySerializer(api_key_policy_of(self.org)).data)

    @extend_schema(
        operation_id="api_key_policy_replace",
        request=s.APIKeyPolicySerializer,
        responses={200: s.APIKeyPolicyChangedSerializer},
        tags=["api-keys"],
        summary="Replace the API-key policy (owners); a field left out is no restriction",
        description="Existing keys are not revoked: the answer lists the active keys the new "
        "policy leaves outside it, with each rule, and the key list flags them.",
    )
    def put(self, request: Request) -> Response:
        data = validated(s.APIKeyPolicySerializer, request)
        return self._change({**_UNRESTRICTED, **data})

    @extend_schema(
        operation_id="api_key_policy_update",
        request=s.APIKeyPolicySerializer,
        responses={200: s.APIKeyPolicyChangedSerializer},
        tags=["api-keys"],
        summary="Change some rules of the API-key policy (owners)",
        description="Fields left out keep their value; a per-role table sent replaces the "
        "whole table. The answer lists the active keys the policy leaves outside it.",
    )
    def patch(self, request: Request) -> Response:
        return self._change(validated(s.APIKeyPolicySerializer, request))

    def _change(self, changes: dict[str, Any]) -> Response:
        policy, outside = api_key_policy_set(
            org=self.org, actor=acting(self.request), by=self.org_context, changes=changes
        )
        body = {
            **s.APIKeyPolicySerializer(policy).data,
            "out_of_policy_keys": s.OutOfPolicyKeySerializer(
                [{"key": key, "rules": rules} for key, rules in outside], many=True
            ).data,
        }
        return Response(body)


_UNRESTRICTED: dict[str, Any] = {
    "max_lifetime_days": None,
    "revoke_unused_after_days": None,
    "scope_ceilings": {},
    "max_active_keys_per_member": None,
    "allowed_environments": {},
    "require_ip_allowlist_for_live": False,
}
