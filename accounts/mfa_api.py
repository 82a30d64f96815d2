"""The second factor over the API: the login's second step, and the person's own enrollment
(``/api/users/me/mfa...``: a person's own sign-in only, never an API key). Thin: parse,
count the attempt, call one service of ``accounts.mfa``."""

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from accounts import mfa
from accounts import serializers as s
from accounts.errors import InvalidCredentials, JwtDisabled, jwt_disabled_error
from accounts.models import MfaChallenge
from accounts.services import mfa_login
from audit.actors import RequestContext
from orgs.bases import PublicView, SignedInView, validated
from orgs.context import acting, org_context
from orgs.ratelimits import enforce, enforce_second_factor

INVALID_MFA_TOKEN = "Invalid or expired mfa_token: sign in again"


def invalid_code() -> exceptions.ValidationError:
    """A wrong code is the field's fault: 422 on ``code`` (the token, if any, still works
    until its attempts are spent)."""
    return exceptions.ValidationError({"code": [mfa.INVALID_CODE]})


class MfaLoginView(PublicView):
    @extend_schema(
        operation_id="auth_mfa",
        request=s.MfaLoginSerializer,
        responses={200: s.TokenPairSerializer},
        tags=["auth"],
        summary="Finish a password login with a second-factor code: the same token pair",
        description=(
            "When `POST /api/auth/login` answers `401 mfa_required`, send its "
            "`details.mfa_token` with six digits from the authenticator app (or a recovery "
            "code, once) here (Auth0's MFA API). The token lives "
            f"{int(settings.MFA_TOKEN_LIFETIME.total_seconds())} seconds, completes one "
            f"sign-in, and dies after {settings.MFA_TOKEN_ATTEMPTS} wrong codes. A wrong code "
            f"is `422` on `code`. Attempts count per person ({settings.MFA_RATE}) and per "
            "client address."
        ),
    )
    def post(self, request: Request) -> Response:
        enforce(request, group="mfa-ip", key="ip", rate=settings.LOGIN_RATE)
        data = validated(s.MfaLoginSerializer, request)
        challenge = mfa.challenge_peek(data["mfa_token"], channel=MfaChallenge.Channel.API)
        if challenge is None:
            raise exceptions.AuthenticationFailed(INVALID_MFA_TOKEN)
        enforce_second_factor(request, user_id=challenge.user_id)
        try:
            pair = mfa_login(
                raw_token=data["mfa_token"],
                code=data["code"],
                context=RequestContext.from_request(request),
            )
        except InvalidCredentials:
            raise exceptions.AuthenticationFailed(INVALID_MFA_TOKEN) from None
        except JwtDisabled:
            raise jwt_disabled_error() from None
        except mfa.InvalidCode:
            raise invalid_code() from None
        return Response(s.TokenPairSerializer(pair).data)


class MfaStatusView(SignedInView):
    @extend_schema(
        operation_id="users_me_mfa",
        responses={200: s.MfaStatusSerializer},
        tags=["users"],
        summary="My second factor: on or off, recovery codes left, orgs that require one",
    )
    def get(self, request: Request) -> Response:
        status_ = mfa.mfa_status(org_context(request).membership.user)
        return Response(s.MfaStatusSerializer(asdict(status_)).data)


class MfaEnrollView(SignedInView):
    @extend_schema(
        operation_id="users_me_mfa_totp_start",
        request=None,
        responses={201: s.MfaEnrollmentSerializer},
        tags=["users"],
        summary="Start enrolling an authenticator app: its secret and QR code (SVG)",
        description=(
            "Scan `qr_svg` (or type `secret`) into an authenticator app, then confirm with "
            "its first code. Starting again replaces an unconfirmed secret; 409 while a "
            "second factor is on."
        ),
    )
    def post(self, request: Request) -> Response:
        context = org_context(request)
        enrollment = mfa.totp_enroll_start(
            user=context.membership.user, actor=acting(request), org_id=context.org.pk
        )
        return Response(
            s.MfaEnrollmentSerializer(asdict(enrollment)).data, status=status.HTTP_201_CREATED
        )


class MfaConfirmView(SignedInView):
    @extend_schema(
        operation_id="users_me_mfa_totp_confirm",
        request=s.MfaCodeSerializer,
        responses={200: s.RecoveryCodesSerializer},
        tags=["users"],
        summary="Confirm the app with its first code: the second factor is on",
        description=(
            "Answers the single-use recovery codes, this once. A wrong code is `422`; 409 "
            "when no enrollment was started."
        ),
    )
    def post(self, request: Request) -> Response:
        codes = _code_step(request, s.MfaCodeSerializer, mfa.totp_enroll_confirm)
        return Response(s.RecoveryCodesSerializer({"recovery_codes": codes}).data)


class MfaDisableView(SignedInView):
    @extend_schema(
        operation_id="users_me_mfa_disable",
        request=s.MfaDisableSerializer,
        responses={204: None},
        tags=["users"],
        summary="Turn my second factor off: my password and a code (or a recovery code)",
        description="A wrong password or code is `422`; 409 when no second factor is on.",
    )
    def post(self, request: Request) -> Response:
        _code_step(request, s.MfaDisableSerializer, mfa.mfa_disable)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecoveryCodesView(SignedInView):
    @extend_schema(
        operation_id="users_me_mfa_recovery_codes",
        request=s.MfaCodeSerializer,
        responses={200: s.RecoveryCodesSerializer},
        tags=["users"],
        summary="New recovery codes for a code of my app; the old ones stop working",
        description="A wrong code is `422`; 409 when no second factor is on.",
    )
    def post(self, request: Request) -> Response:
        codes = _code_step(request, s.MfaCodeSerializer, mfa.recovery_codes_regenerate)
        return Response(s.RecoveryCodesSerializer({"recovery_codes": codes}).data)


def _code_step(
    request: Request, serializer: type[Serializer[Any]], step: Callable[..., Any]
) -> Any:
    """A signed-in person's step that a code from their app authorizes (confirm, disable,
    new recovery codes): rate-limited per person, the body's fields passed to ``step`` with
    the person, the acting credential and the org; a wrong code is the documented 422."""
    context = org_context(request)
    enforce_second_factor(request, user_id=context.membership.user_id)
    data = validated(serializer, request)
    try:
        return step(
            user=context.membership.user, actor=acting(request), org_id=context.org.pk, **data
        )
    except mfa.InvalidCode:
        raise invalid_code() from None
