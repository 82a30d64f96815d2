"""Server-to-server endpoints, Authworx style: an org's backend, holding one of its API
keys, verifies its users' tokens and reads org data. Rate-limited per key."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import membership_for_access_token
from accounts.tokens import AccessTokenExpired, AccessTokenInvalid
from apikeys import serializers as s
from apikeys.services import leaked_keys_report
from audit.actors import Actor, RequestContext
from orgs.bases import PublicKeyView, PublicView
from orgs.models import Membership
from orgs.ratelimits import enforce

MAX_LEAK_REPORTS = 1000
ORG_SLUG_HEADER = OpenApiParameter(
    "X-Org-Slug", str, OpenApiParameter.HEADER, description="If sent, must be the key's org"
)


class VerifyView(PublicKeyView):
    required_actions = {"post": "member:read"}

    @extend_schema(
        operation_id="public_verify",
        request=s.VerifySerializer,
        responses={200: s.VerifyResultSerializer},
        parameters=[ORG_SLUG_HEADER],
        tags=["public"],
        summary="Verify a user's access token for the key's org",
        description="`valid` is false for a bad, expired or ended token, or another org's.",
    )
    def post(self, request: Request) -> Response:
        serializer = s.VerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            found = membership_for_access_token(serializer.validated_data["token"], enter=False)
        except (AccessTokenExpired, AccessTokenInvalid):
            found = None
        # A token of another org, or of an org that has switched JWT sign-in off, is not valid
        # here, exactly as it would not be on our own API.
        if (
            found is None
            or found[0].org_id != self.org_context.org.pk
            or not found[0].org.jwt_enabled
        ):
            result: dict[str, Any] = {"valid": False, "user": None, "membership": None}
        else:
            result = {"valid": True, "user": found[0].user, "membership": found[0]}
        return Response(s.VerifyResultSerializer(result).data)


class PublicOrgView(PublicKeyView):
    required_actions = {"get": "org:read"}

    @extend_schema(
        operation_id="public_org",
        responses={200: s.PublicOrgSerializer},
        parameters=[ORG_SLUG_HEADER],
        tags=["public"],
        summary="The key's organization",
    )
    def get(self, request: Request) -> Response:
        return Response(s.PublicOrgSerializer(self.org_context.org).data)


class UserView(PublicKeyView):
    required_actions = {"get": "member:read"}

    @extend_schema(
        operation_id="public_user",
        responses={200: s.PublicMemberSerializer},
        parameters=[ORG_SLUG_HEADER],
        tags=["public"],
        summary="A member of the key's org, by user id (404 for anyone else)",
    )
    def get(self, request: Request, user_id: int) -> Response:
        membership = get_object_or_404(
            Membership.objects.for_org(self.org_context.org).select_related("user"),
            user_id=user_id,
        )
        return Response(s.PublicMemberSerializer(membership).data)


class LeakedKeysView(PublicView):
    """Secret-scanning partners (GitHub style) report exposed keys here. Unauthenticated by
    design: only the exact key can be reported, so a report can only hurt a key that is
    already exposed. The answer is the same whether or not anything matched."""

    @extend_schema(
        operation_id="public_leaked_keys",
        request=s.LeakReportSerializer(many=True),
        responses={202: s.LeakReceiptSerializer},
        tags=["public"],
        summary="Report exposed API keys; every live key reported is revoked",
    )
    def post(self, request: Request) -> Response:
        enforce(request, group="leak-report", key="ip", rate=settings.LEAK_REPORT_RATE)
        payload = request.data if isinstance(request.data, list) else [request.data]
        # The cap first: validating 100,000 items costs a second of CPU per anonymous request.
        if len(payload) > MAX_LEAK_REPORTS:
            raise exceptions.ValidationError(f"At most {MAX_LEAK_REPORTS} reports per request")
        serializer = s.LeakReportSerializer(data=payload, many=True)
        serializer.is_valid(raise_exception=True)
        reports = list(serializer.validated_data)
        leaked_keys_report(
            reports=reports,
            actor=Actor(
                type="system",
                id="",
                label="leak report",
                context=RequestContext.from_request(request),
            ),
        )
        receipt = s.LeakReceiptSerializer({"received": len(reports)}).data
        return Response(receipt, status=status.HTTP_202_ACCEPTED)
