"""The second factor in the portal: the sign-in's code step and enrollment step (after the
password, before any session), and the person's own setup on the account page. Thin: parse,
count the attempt, call ``accounts.mfa``, render. Pages that show a secret or recovery codes
are ``no-store``."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from rest_framework.exceptions import Throttled

from accounts import mfa
from accounts.errors import InvalidCredentials
from accounts.models import MfaChallenge, User
from accounts.views import (
    MFA_NEXT_KEY,
    MFA_PENDING_KEY,
    MFA_VIA_KEY,
    TOO_MANY,
    account_page,
    acting_org_id,
    sign_in_and_redirect,
)
from audit.actors import Actor, RequestContext
from orgs.bases import PortalPublicView, PortalSignedInView
from orgs.errors import Conflict
from orgs.ratelimits import enforce_second_factor

PORTAL_LAYOUT = "portal/base.html"  # the account's pages; the sign-in steps: accounts/base.html
EXPIRED = "That sign-in expired or had too many wrong codes. Sign in again."


def _too_many(request: HttpRequest, user_id: int) -> bool:
    try:
        enforce_second_factor(request, user_id=user_id)
    except Throttled:
        return True
    return False


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def _recovery_codes(
    request: HttpRequest, codes: list[str] | None, *, continue_url: str, **extra: Any
) -> HttpResponse:
    """The page that shows new recovery codes, this once (never cached)."""
    context = {"codes": codes, "continue_url": continue_url, **extra}
    return _no_store(render(request, "accounts/recovery_codes.html", context))


class _SignInStep(PortalPublicView):
    """A step of a half-finished sign-in: this browser's anonymous session holds the
    challenge token. No live challenge of the page's purpose: back to the sign-in page."""

    purpose: str
    template_name: str

    def challenge(self, request: HttpRequest) -> MfaChallenge | None:
        raw = str(request.session.get(MFA_PENDING_KEY) or "")
        challenge = mfa.challenge_peek(raw, channel=MfaChallenge.Channel.PORTAL)
        return challenge if challenge is not None and challenge.purpose == self.purpose else None

    def start_over(self, request: HttpRequest) -> HttpResponse:
        for key in (MFA_PENDING_KEY, MFA_NEXT_KEY, MFA_VIA_KEY):
            request.session.pop(key, None)
        messages.error(request, EXPIRED)
        return HttpResponseRedirect(reverse("login"))

    def get(self, request: HttpRequest) -> HttpResponse:
        challenge = self.challenge(request)
        if challenge is None:
            return self.start_over(request)
        return self.render_step(request, challenge)

    def render_step(
        self, request: HttpRequest, challenge: MfaChallenge, *, error: str = "", status: int = 200
    ) -> HttpResponse:
        context = {"error": error, "email": challenge.user.email, **self.step_context(challenge)}
        return _no_store(render(request, self.template_name, context, status=status))

    def step_context(self, challenge: MfaChallenge) -> dict[str, Any]:
        return {}

    def post(self, request: HttpRequest) -> HttpResponse:
        challenge = self.challenge(request)
        if challenge is None:
            return self.start_over(request)
        if _too_many(request, challenge.user_id):
            return self.render_step(request, challenge, error=TOO_MANY, status=429)
        raw = str(request.session.get(MFA_PENDING_KEY))
        next_url = str(request.session.get(MFA_NEXT_KEY) or "")
        via = str(request.session.get(MFA_VIA_KEY) or "password")

        def sign_in(redeemed: mfa.Redeemed) -> HttpResponse:
            for key in (MFA_PENDING_KEY, MFA_NEXT_KEY, MFA_VIA_KEY):
                request.session.pop(key, None)
            return sign_in_and_redirect(
                request, user=redeemed.challenge.user, via=f"{via}+{redeemed.method}",
                next_url=next_url,
            )  # fmt: skip

        try:
            response, redeemed = mfa.challenge_redeem(
                raw_token=raw,
                code=request.POST.get("code") or "",
                channel=MfaChallenge.Channel.PORTAL,
                context=RequestContext.from_request(request),
                then=sign_in,
            )
        except InvalidCredentials:
            return self.start_over(request)
        except mfa.InvalidCode:
            if self.challenge(request) is None:  # that was its last attempt
                return self.start_over(request)
            return self.render_step(request, challenge, error=mfa.INVALID_CODE, status=400)
        return self.done(request, response, redeemed)

    def done(self, request: HttpRequest, response: HttpResponse, redeemed: mfa.Redeemed) -> Any:
        if redeemed.method == mfa.RECOVERY_CODE:
            messages.warning(
                request,
                "You signed in with a recovery code; it cannot be used again. "
                "Make new ones on your account page if you are running out.",
            )
        return response


@method_decorator(never_cache, name="dispatch")
class LoginCodePage(_SignInStep):
    """``/login/code/``: six digits from the app, or a recovery code."""

    purpose = MfaChallenge.Purpose.VERIFY
    template_name = "accounts/login_code.html"


@method_decorator(never_cache, name="dispatch")
class LoginEnrollPage(_SignInStep):
    """``/login/enroll/``: an org of the person requires a second factor they lack. The app
    secret was made with the challenge (``mfa.enroll_walk_start``); its first code signs
    the person in, and the recovery codes are shown this once."""

    purpose = MfaChallenge.Purpose.ENROLL
    template_name = "accounts/login_enroll.html"

    def step_context(self, challenge: MfaChallenge) -> dict[str, Any]:
        device = mfa.pending_device(challenge.user)
        return {
            "enrollment": mfa.enrollment_for(device) if device is not None else None,
            "orgs": mfa.orgs_requiring(challenge.user),
        }

    def done(self, request: HttpRequest, response: HttpResponse, redeemed: mfa.Redeemed) -> Any:
        return _recovery_codes(request, redeemed.recovery_codes, continue_url=response["Location"])


# --- The account page's second factor --------------------------------------------------------


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(_user(request), request)


class MfaStartPage(PortalSignedInView):
    """POST: a new app secret (unconfirmed), then the setup page shows it."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            mfa.totp_enroll_start(
                user=_user(request), actor=_actor(request), org_id=acting_org_id(request)
            )
        except Conflict as exc:
            return account_page(request, errors={"mfa": [exc.conflict_message]}, status=409)
        return HttpResponseRedirect(reverse("account-mfa-setup"))


@method_decorator(never_cache, name="dispatch")
class MfaSetupPage(PortalSignedInView):
    """GET: the pending secret as a QR code; POST: its first code turns the factor on."""

    template_name = "accounts/mfa_setup.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def _render(self, request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
        device = mfa.pending_device(_user(request))
        if device is None:
            return HttpResponseRedirect(reverse("account"))
        context = {"enrollment": mfa.enrollment_for(device), "error": error}
        return _no_store(render(request, self.template_name, context, status=status))

    def post(self, request: HttpRequest) -> HttpResponse:
        user = _user(request)
        if _too_many(request, user.pk):
            return self._render(request, error=TOO_MANY, status=429)
        try:
            codes = mfa.totp_enroll_confirm(
                user=user,
                code=request.POST.get("code") or "",
                actor=_actor(request),
                org_id=acting_org_id(request),
            )
        except Conflict:
            return HttpResponseRedirect(reverse("account"))
        except mfa.InvalidCode:
            return self._render(request, error=mfa.INVALID_CODE, status=422)
        return _recovery_codes(
            request, codes, continue_url=reverse("account"), layout=PORTAL_LAYOUT
        )


class MfaRecoveryCodesPage(PortalSignedInView):
    """POST with a code of the app: new recovery codes, shown once."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        user = _user(request)
        if _too_many(request, user.pk):
            return account_page(request, errors={"regenerate": [TOO_MANY]}, status=429)
        try:
            codes = mfa.recovery_codes_regenerate(
                user=user,
                code=request.POST.get("code") or "",
                actor=_actor(request),
                org_id=acting_org_id(request),
            )
        except Conflict as exc:
            return account_page(request, errors={"regenerate": [exc.conflict_message]}, status=409)
        except mfa.InvalidCode:
            return account_page(request, errors={"regenerate": [mfa.INVALID_CODE]}, status=422)
        return _recovery_codes(
            request, codes, continue_url=reverse("account"), layout=PORTAL_LAYOUT
        )


class MfaDisablePage(PortalSignedInView):
    """POST with the password and a code (or a recovery code): the second factor is off."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        user = _user(request)
        if _too_many(request, user.pk):
            return account_page(request, errors={"disable": [TOO_MANY]}, status=429)
        try:
            mfa.mfa_disable(
                user=user,
                password=request.POST.get("password") or "",
                code=request.POST.get("code") or "",
                actor=_actor(request),
                org_id=acting_org_id(request),
            )
        except Conflict as exc:
            return account_page(request, errors={"disable": [exc.conflict_message]}, status=409)
        except mfa.InvalidCode:
            return account_page(request, errors={"disable": [mfa.INVALID_CODE]}, status=422)
        except ValidationError:  # the service's: a wrong password
            return account_page(request, errors={"disable": ["Incorrect password"]}, status=422)
        messages.success(request, "Second factor turned off.")
        return HttpResponseRedirect(reverse("account"))
