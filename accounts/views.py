"""Sign-in pages: /login/, /logout/, password reset. Thin: parse, call a service, render."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import Throttled
from social_core.actions import do_complete
from social_core.exceptions import AuthException
from social_django.utils import psa

from accounts.pipeline import UnverifiedEmail
from accounts.redirects import safe_next
from accounts.services import password_reset_finish
from accounts.sessions import browser_session_set_org, browser_sign_in, browser_sign_out
from audit.actors import Actor, RequestContext
from orgs.bases import PortalPublicView, PortalSignedInView
from orgs.hosts import membership_for_person
from orgs.ratelimits import email_bucket_value, enforce, enforce_login
from orgs.services import org_create

# The API login's answer, word for word: no failure says which part was wrong.
INVALID_CREDENTIALS = "Invalid credentials"
TOO_MANY = "Too many attempts. Wait a minute and try again."
NO_ORG_NEXT = "/orgs/new/"


def google_enabled() -> bool:
    return bool(settings.SOCIAL_AUTH_GOOGLE_OIDC_KEY)


def _limited(request: HttpRequest, *, group: str, key: Any) -> bool:
    """Count an attempt in one bucket (``key``: ``"ip"`` or ``(group, request) -> value``)."""
    try:
        enforce(request, group=group, key=key, rate=settings.LOGIN_RATE)
    except Throttled:
        return True
    return False


def _login_limited(request: HttpRequest, *, email: str) -> bool:
    """The API login's buckets, counted the same way: per address, then per email as the
    user lookup compares it and per account."""
    if _limited(request, group="login-ip", key="ip"):
        return True
    try:
        if email:
            enforce_login(request, email=email)
    except Throttled:
        return True
    return False


@method_decorator(never_cache, name="dispatch")
class LoginPage(PortalPublicView):
    """Google first, then email + password. The password path shares the API login's
    limits (the same counters: per IP and per email) and its single error."""

    template_name = "accounts/login.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, next_url=request.GET.get("next", ""))

    def post(self, request: HttpRequest) -> HttpResponse:
        email = (request.POST.get("email") or "").strip()
        password = request.POST.get("password") or ""
        next_url = request.POST.get("next", "")
        if _login_limited(request, email=email):
            return self._render(request, next_url=next_url, email=email, error=TOO_MANY, status=429)
        user = ModelBackend().authenticate(request, username=email, password=password)
        if user is None:
            return self._render(
                request, next_url=next_url, email=email, error=INVALID_CREDENTIALS, status=400
            )
        return sign_in_and_redirect(request, user=user, via="password", next_url=next_url)

    def _render(
        self,
        request: HttpRequest,
        *,
        next_url: str,
        email: str = "",
        error: str = "",
        status: int = 200,
    ) -> HttpResponse:
        context = {
            "next": next_url,
            "email": email,
            "error": error,
            "google_enabled": google_enabled(),
        }
        return render(request, self.template_name, context, status=status)


def sign_in_and_redirect(
    request: HttpRequest, *, user: Any, via: str, next_url: str, backend: str = ""
) -> HttpResponse:
    """Open the session (acting in the host's org when the person is a member there), then
    go to a safe ``next``; someone with no org yet goes to create one."""
    membership = membership_for_person(
        user_id=user.pk, host=request.get_host(), preferred_org_id=None
    )
    org_id = membership.org_id if membership is not None else None
    browser_sign_in(request=request, user=user, org_id=org_id, via=via, backend=backend)
    if membership is None:
        return HttpResponseRedirect(NO_ORG_NEXT)
    return HttpResponseRedirect(safe_next(next_url, request))


class LogoutPage(PortalPublicView):
    """POST only (a form button): ends this session, on every subdomain at once. Public: a
    sign-out always works, an already ended session included."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        browser_sign_out(request=request)
        return HttpResponseRedirect(reverse_lazy("login"))


class _NoReferrer:
    """Pages whose URL carries a secret: no Referer may leak it to a linked site."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        return response


class PasswordResetPage(auth_views.PasswordResetView, PortalPublicView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        email = (request.POST.get("email") or "").strip().lower()
        bucket = email_bucket_value(email)  # as the lookup compares emails (email__iexact)
        if _limited(request, group="password-reset-ip", key="ip") or (
            email and _limited(request, group="password-reset-email", key=lambda *_: bucket)
        ):
            form = self.get_form()
            form.is_valid()
            form.add_error(None, TOO_MANY)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)


class PasswordResetDonePage(auth_views.PasswordResetDoneView, PortalPublicView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmPage(_NoReferrer, auth_views.PasswordResetConfirmView, PortalPublicView):
    """Django's view: the token leaves the URL at once (kept in the session, then the
    browser is redirected to ``.../set-password/``); the new password goes through our
    service, which ends every other sign-in and is audited."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        password_reset_finish(
            user=form.user,
            new_password=form.cleaned_data["new_password1"],
            context=RequestContext.from_request(self.request),
        )
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetCompletePage(auth_views.PasswordResetCompleteView, PortalPublicView):
    template_name = "accounts/password_reset_complete.html"


GOOGLE_BACKEND = "accounts.google.GoogleOIDC"
GOOGLE_UNVERIFIED = (
    "Google did not confirm this email address",
    "Tenantry accepts a Google account only with a verified email. Verify the address "
    "with Google, or sign in with your password.",
)
GOOGLE_REFUSED = (
    "This sign-in could not be completed",
    "The answer from Google did not match the sign-in this browser started (it was "
    "changed, used twice, or is too old). Nothing was signed in. Start again from the "
    "sign-in page.",
)


@never_cache
@csrf_exempt  # a redirect back from Google; the OAuth state is its CSRF check
@psa("social:complete")
def google_complete(request: HttpRequest, backend: str) -> HttpResponse:
    """Google's redirect back. Checks state, nonce and the id token (social-core), runs the
    pipeline, signs in through our service; any refusal is a plain page, never a 500."""

    def _login(backend_obj: Any, user: Any, social_user: Any) -> None:
        membership = membership_for_person(
            user_id=user.pk, host=request.get_host(), preferred_org_id=None
        )
        browser_sign_in(
            request=request,
            user=user,
            org_id=membership.org_id if membership is not None else None,
            via="google",
            backend=GOOGLE_BACKEND,
        )

    try:
        response = do_complete(
            request.backend,  # type: ignore[attr-defined]
            _login,
            user=None,  # never link to whoever is signed in in this browser
            redirect_name="next",
            request=request,
        )
    except AuthException as exc:
        unverified = getattr(exc, "claim", None) == "email_verified"
        heading, message = (
            GOOGLE_UNVERIFIED if unverified or isinstance(exc, UnverifiedEmail) else GOOGLE_REFUSED
        )
        context = {
            "heading": heading,
            "message": message,
            "action_url": reverse("login"),
            "action_label": "Back to sign in",
        }
        return render(request, "accounts/message.html", context, status=400)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return response
    if (
        membership_for_person(user_id=user.pk, host=request.get_host(), preferred_org_id=None)
        is None
    ):
        return HttpResponseRedirect(NO_ORG_NEXT)
    return HttpResponseRedirect(safe_next(response.get("Location"), request))


class OrgNewPage(PortalSignedInView):
    """Create an organization (the stranger's path after Google sign-in) and land in it."""

    template_name = "accounts/org_new.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, {"name": "", "slug": ""}, {})

    def post(self, request: HttpRequest) -> HttpResponse:
        values = {
            "name": (request.POST.get("name") or "").strip(),
            "slug": (request.POST.get("slug") or "").strip().lower(),
        }
        try:
            org = org_create(
                actor=Actor.for_user(request.user, request),  # type: ignore[arg-type]
                slug=values["slug"],
                name=values["name"],
                owner=request.user,
            )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            return self._render(request, values, errors, status=422)
        browser_session_set_org(request=request, org_id=org.pk)
        messages.success(request, f"Organization {org.name} created. You are its owner.")
        return HttpResponseRedirect("/")

    def _render(
        self,
        request: HttpRequest,
        values: dict[str, str],
        errors: dict[str, list[str]],
        status: int = 200,
    ) -> HttpResponse:
        has_org = (
            membership_for_person(
                user_id=int(request.user.pk or 0), host=request.get_host(), preferred_org_id=None
            )
            is not None
        )
        context = {
            "values": values,
            "errors": errors,
            "form_errors": errors.get("__all__", []),
            "has_org": has_org,
            "base_domain": settings.BASE_DOMAIN,
        }
        return render(request, self.template_name, context, status=status)
