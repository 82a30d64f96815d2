"""Settings > API Keys, over the API. Thin: parse, call one service, shape."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apikeys import serializers as s
from apikeys.models import APIKey
from apikeys.selectors import STATUSES, UnknownStatus, api_keys_visible, api_keys_with_status
from apikeys.services import api_key_create, api_key_revoke, api_key_roll, api_key_update
from orgs.bases import OrgScopedViewSet, validated
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
    )
    def create(self, request: Request) -> Response:
        data = validated(s.APIKeyCreateSerializer, request)
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
        description="Only the key's creator may roll it; others with api_key:manage revoke.",
    )
    @action(detail=True, methods=["post"])
    def roll(self, request: Request, pk: str) -> Response:
        key = self.get_object()
        data = validated(s.APIKeyRollSerializer, request)
        new, raw = api_key_roll(
            org=self.org,
            actor=acting(request),
            key=key,
            grace_seconds=data["grace_seconds"],
            by=self.org_context,
            within=self.org_context.scopes,
        )
        body = {**self.get_serializer(new).data, "key": raw}
        return Response(body, status=status.HTTP_201_CREATED, headers=NO_STORE)
