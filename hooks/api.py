"""Pre-write hooks over the API. Thin: parse, call one service, shape.

``security:read`` (owners and admins) lists hooks; ``security:write`` (owners only)
registers, changes, tests and removes them.
"""

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hooks import serializers as s
from hooks.models import PreWriteHook
from hooks.services import hook_create, hook_delete, hook_send_test, hook_update
from orgs.bases import OrgScopedViewSet, validated
from orgs.context import acting

NO_STORE = {"Cache-Control": "no-store"}


@extend_schema(tags=["hooks"])
class PreWriteHookViewSet(OrgScopedViewSet[PreWriteHook]):
    model = PreWriteHook
    serializer_class = s.PreWriteHookSerializer
    required_actions = {
        "list": "security:read",
        "retrieve": "security:read",
        "create": "security:write",
        "partial_update": "security:write",
        "destroy": "security:write",
        "send_test": "security:write",
    }
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    @extend_schema(operation_id="hooks_list", summary="List pre-write hooks (never their secret)")
    def list(self, request: Request) -> Response:
        return self.page()

    @extend_schema(operation_id="hooks_get")
    def retrieve(self, request: Request, pk: str) -> Response:
        return self.one()

    @extend_schema(
        operation_id="hooks_create",
        request=s.PreWriteHookCreateSerializer,
        responses={201: s.PreWriteHookCreatedSerializer},
        summary="Register a pre-write hook; its signing secret is in this response only",
    )
    def create(self, request: Request) -> Response:
        data = validated(s.PreWriteHookCreateSerializer, request)
        created = hook_create(org=self.org, actor=acting(request), **data)
        body = {**self.get_serializer(created.hook).data, "secret": created.secret}
        return Response(body, status=status.HTTP_201_CREATED, headers=NO_STORE)

    @extend_schema(
        operation_id="hooks_update",
        request=s.PreWriteHookUpdateSerializer,
        responses={200: s.PreWriteHookSerializer},
        summary="Change a hook's URL, actions, description, failure mode or enabled state",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        hook = self.get_object()
        data = validated(s.PreWriteHookUpdateSerializer, request)
        hook = hook_update(org=self.org, actor=acting(request), hook=hook, **data)
        return Response(self.get_serializer(hook).data)

    @extend_schema(
        operation_id="hooks_delete",
        responses={204: None},
        summary="Remove a hook; writes are no longer put to it",
    )
    def destroy(self, request: Request, pk: str) -> Response:
        hook_delete(org=self.org, actor=acting(request), hook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="hooks_send_test",
        request=None,
        responses={200: s.HookTestResultSerializer},
        summary="Call the hook now with a sample proposal (test: true) and report its answer",
    )
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request: Request, pk: str) -> Response:
        hook = self.get_object()
        with self.outside_the_request_transaction():  # no transaction waits on the call
            result = hook_send_test(org=self.org, actor=acting(request), hook=hook)
        return Response(s.HookTestResultSerializer(asdict(result)).data)
