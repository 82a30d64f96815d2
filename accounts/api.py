"""Sign-in API: login, refresh, logout, /users/me, sessions, password, invitation acceptance."""

import functools
import json
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import mfa
from accounts import serializers as s
from accounts.errors import (
    InvalidCredentials,
    JwtDisabled,
    MfaRequiredError,
    jwt_disabled_error,
    mfa_enrollment_required_error,
)
from accounts.selectors import API_PREFIX, sessions_list
from accounts.services import (
    browser_session_forget_if_ended,
    browser_sign_out,
    invitation_accept,
    logout,
    password_change,
    password_login,
    refresh,
    session_end,
    sessions_end_all,
)
from audit.actors import RequestContext
from orgs.bases import OrgView, PublicView, SignedInView, validated
from orgs.context import OrgContext, acting, org_context
from orgs.ratelimits import enforce, enforce_login
from orgs.roles import ANY_MEMBER
from orgs.serializers import MembershipSerializer
from orgs.services import InvitationInvalid

INVALID_CREDENTIALS = "Invalid credentials"


class LoginView(PublicView):
    @extend_schema(
        operation_id="auth_login",
        request=s.LoginSerializer,
        responses={200: s.TokenPairSerializer},
        tags=["auth"],
        summary="Exchange email, password and org slug for a token pair",
        description=(
            "Any failure is the same 401 Invalid credentials, also for an org that switched "
            "JWT sign-in off (whether or not the password was right). A person with a second "
            "factor gets `401 mfa_required` with `details.mfa_token` instead: finish with "
            "`POST /api/auth/mfa`. A member of an org that requires a second factor, without "
            "one, gets `403 mfa_enrollment_required`. Both only after a right password."
        ),
    )
    def post(self, request: Request) -> Response:
        enforce(request, group="login-ip", key="ip", rate=settings.LOGIN_RATE)
        data = validated(s.LoginSerializer, request)
        enforce_login(request, email=data["email"])  # per email as the lookup compares it
        try:
            pair = password_login(
                email=data["email"],
                password=data["password"],
                org_slug=data["org_slug"],
                context=RequestContext.from_request(request),
            )
        except (InvalidCredentials, JwtDisabled):
            # One answer for every failure, a JWT-disabled org's included: telling a right
            # password there from a wrong one would confirm a guess.
            raise exceptions.AuthenticationFailed(INVALID_CREDENTIALS) from None
        except mfa.MfaRequired as owed:
            raise MfaRequiredError(owed.mfa_token) from None
        except mfa.MfaEnrollmentRequired:
            raise mfa_enrollment_required_error() from None
        return Response(s.TokenPairSerializer(pair).data)


class RefreshView(PublicView):
    @extend_schema(
        operation_id="auth_refresh",
        request=s.RefreshSerializer,
        responses={200: s.TokenPairSerializer},
        tags=["auth"],
        summary="Exchange a refresh token (one-time) for a new pair",
        description="Replaying a spent refresh token revokes every token of that sign-in.",
    )
    def post(self, request: Request) -> Response:
        enforce(request, group="refresh-ip", key="ip", rate=settings.REFRESH_RATE)
        data = validated(s.RefreshSerializer, request)
        try:
            pair = refresh(
                raw_token=data["refresh_token"], context=RequestContext.from_request(request)
            )
        except InvalidCredentials:
            raise exceptions.AuthenticationFailed("Invalid refresh token") from None
        except JwtDisabled:
            raise jwt_disabled_error() from None
        return Response(s.TokenPairSerializer(pair).data)


class LogoutView(SignedInView):
    @extend_schema(
        operation_id="auth_logout",
        request=None,
        responses={204: None},
        tags=["auth"],
        summary="End this sign-in: its refresh and access tokens stop working",
    )
    def post(self, request: Request) -> Response:
        context = org_context(request)
        if context.credential == "session":
            browser_sign_out(request=request._request)
        else:
            logout(
                membership=context.membership,
                family_id=context.credential_id,
                actor=acting(request),
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(SignedInView):
    @extend_schema(
        operation_id="auth_logout_all",
        request=None,
        responses={204: None},
        tags=["auth"],
        summary="End every sign-in of the current user: browser sessions and API sign-ins",
    )
    def post(self, request: Request) -> Response:
        context = org_context(request)
        sessions_end_all(user=context.membership.user, actor=acting(request), org_id=context.org.pk)
        browser_session_forget_if_ended(request._request)  # this one ended too
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(OrgView):
    required_actions = {"get": ANY_MEMBER}  # any credential: an API key reads its holder
    # Its answer was read by the credential's statement: no transaction, no other statement.
    credential_only = ("get",)

    @extend_schema(
        operation_id="users_me",
        responses={200: s.MeSerializer},
        tags=["users"],
        summary="The current user, organization, role and the actions it allows",
    )
    def get(self, request: Request) -> HttpResponse:
        # Rendered here by the negotiated renderer, as DRF's Response would render it, without
        # the template-response machinery around it (the API's hottest answer).
        values = s.me_values(org_context(request))
        renderer = request.accepted_renderer
        if request.accepted_media_type == _JSON and _renders_compact_json(renderer):
            return HttpResponse(_me_json(values), content_type=_JSON)
        data = s.me_representation_of(values)
        body = renderer.render(
            data, request.accepted_media_type, {"request": request, "view": self}
        )
        charset = renderer.charset
        media_type = renderer.media_type
        return HttpResponse(
            body, content_type=f"{media_type}; charset={charset}" if charset else media_type
        )


_JSON = "application/json"
# DRF's JSONRenderer with the project's settings (UNICODE_JSON, COMPACT_JSON, STRICT_JSON):
# json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")). One encoder
# serves every request (json.dumps built a new one, and DRF parsed the media type for an
# indent, on each); only for the plain "application/json" it negotiated, without an indent.
_COMPACT = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _renders_compact_json(renderer: Any) -> bool:
    return (
        type(renderer) is JSONRenderer
        and not renderer.ensure_ascii
        and renderer.compact
        and renderer.strict
    )


@functools.lru_cache(maxsize=1024)
def _me_json(values: s.MeValues) -> bytes:
    """The compact JSON body for these values (``me_values``), made once while they stay
    the same: a function of every value the body shows and of nothing else, so a change to
    any of them (read fresh by the credential's statement on every request) is a new body.
    Building the dict and encoding it were most of the view."""
    return _compact_json(s.me_representation_of(values))


def _compact_json(data: dict[str, Any]) -> bytes:
    """``JSONRenderer().render(data, "application/json")``, byte for byte, for a body of
    strings, numbers, lists and dicts (what ``me_representation`` returns)."""
    text = _COMPACT.encode(data)
    # As DRF does: U+2028 and U+2029 escaped, so the body is a valid JavaScript literal.
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


class PasswordView(SignedInView):
    @extend_schema(
        operation_id="users_me_password",
        request=s.PasswordChangeSerializer,
        responses={204: None},
        tags=["users"],
        summary="Change the password; every sign-in of the user ends",
    )
    def post(self, request: Request) -> Response:
        context = org_context(request)
        # A stolen access token must not become a way to guess the current password.
        enforce(
            request, group="password-change", key=lambda *_: str(context.membership.user_id),
            rate=settings.LOGIN_RATE,
        )  # fmt: skip
        data = validated(s.PasswordChangeSerializer, request)
        password_change(
            user=context.membership.user,
            current_password=data["current_password"],
            new_password=data["new_password"],
            actor=acting(request),
            org_id=context.org.pk,
        )
        browser_session_forget_if_ended(request._request)  # this one ended too
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAcceptView(PublicView):
    @extend_schema(
        operation_id="invitations_accept",
        request=s.InvitationAcceptSerializer,
        responses={200: MembershipSerializer},
        tags=["invitations"],
        summary="Accept an invitation with its emailed token",
        description=(
            "Creates the account when the invited email has none (the password is then set); "
            "an existing account must give its current password."
        ),
    )
    def post(self, request: Request) -> Response:
        enforce(request, group="accept-ip", key="ip", rate=settings.LOGIN_RATE)
        data = validated(s.InvitationAcceptSerializer, request)
        try:
            membership = invitation_accept(
                raw_token=data["token"],
                password=data["password"],
                name=data["name"],
                context=RequestContext.from_request(request),
            )
        except (InvitationInvalid, InvalidCredentials):
            raise exceptions.AuthenticationFailed("Invalid or expired invitation") from None
        return Response(MembershipSerializer(membership).data)


class SessionsView(SignedInView, GenericAPIView):
    """The person's browser sessions and API sign-ins (a person's own, in every org)."""

    serializer_class = s.SessionSerializer

    @extend_schema(
        operation_id="users_me_sessions_list",
        responses={200: s.SessionSerializer(many=True)},
        tags=["users"],
        summary="My active sessions: browser sessions and API sign-ins, newest first",
    )
    def get(self, request: Request) -> Response:
        context = org_context(request)
        rows = sessions_list(user=context.membership.user, current_id=current_session_id(context))
        page: list[Any] | None = self.paginate_queryset(rows)  # type: ignore[arg-type]
        return self.get_paginated_response(
            s.SessionSerializer([asdict(row) for row in page or []], many=True).data
        )


class SessionDetailView(SignedInView):
    @extend_schema(
        operation_id="users_me_sessions_delete",
        request=None,
        responses={204: None},
        tags=["users"],
        summary="End one of my sessions: a browser signs out, an API sign-in's tokens stop",
        description="Another person's session, or one already ended, is 404.",
    )
    def delete(self, request: Request, pk: str) -> Response:
        context = org_context(request)
        ended = session_end(
            user=context.membership.user,
            session_id=pk,
            actor=acting(request),
            org_id=context.org.pk,
        )
        if not ended:
            raise exceptions.NotFound()
        browser_session_forget_if_ended(request._request)  # it may have been this one
        return Response(status=status.HTTP_204_NO_CONTENT)


def current_session_id(context: OrgContext) -> str | None:
    if context.credential == "session":
        return str(context.credential_id)
    if context.credential == "jwt":
        return f"{API_PREFIX}{context.credential_id}"
    return None
