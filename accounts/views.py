"""Sign-in pages: /login/, /logout/, password reset. Thin: parse, call a service, render."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import Throttled
from social_core.actions import do_complete
from social_core.exceptions import AuthException
from social_django import views as social_views
from social_django.utils import psa

from accounts import mfa
from accounts.errors import InvalidCredentials
from accounts.models import MfaChallenge, User
from accounts.pipeline import UnverifiedEmail
from accounts.redirects import safe_next
from accounts.selectors import sessions_list
from accounts.services import (
    browser_session_forget_if_ended,
    browser_session_set_org,
    browser_sign_in,
    browser_sign_out,
    invitation_accept,
    invitation_accept_signed_in,
    password_reset_finish,
    session_end,
    sessions_end_all,
)
from accounts.session_auth import session_public_id
from accounts.session_store import ORG_KEY
from audit.actors import Actor, RequestContext
from orgs.bases import PortalPublicView, PortalSignedInView
from orgs.hosts import membership_for_person
from orgs.ratelimits import email_bucket_value, enforce, enforce_login, enforce_org_creation
from orgs.services import InvitationInvalid, invitation_peek, org_create

# The API login's answer, word for word: no failure says which part was wrong.
INVALID_CREDENTIALS = "Invalid credentials"
TOO_MANY = "Too many attempts. Wait a minute and try again."
NO_ORG_NEXT = "/orgs/new/"


def google_enabled() -> bool:
    return bool(settings.SOCIAL_AUTH_GOOGLE_OIDC_KEY)


def allow_google_form(response: HttpResponse, *, own_subdomains: bool = False) -> HttpResponse:
    """Where this page's forms may lead, for the CSP's ``form-action`` (Chromium applies it
    to the redirect after a POST too): the Google form's redirect to the provider, and, for
    the sign-in form, a ``next`` on another of the deployment's own subdomains."""
    targets = []
    if google_enabled():
        parts = urlsplit(settings.SOCIAL_AUTH_GOOGLE_OIDC_OIDC_ENDPOINT)
        targets.append(f"{parts.scheme}://{parts.netloc}")
    if own_subdomains and settings.BASE_DOMAIN != "localhost":
        targets.append(f"*.{settings.BASE_DOMAIN}:*")
    if targets:
        response._csp_update = {"form-action": targets}  # type: ignore[attr-defined]
    return response


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
        step = second_factor_step(request, user=user, via="password", next_url=next_url)
        if step is not None:
            return step
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
        response = render(request, self.template_name, context, status=status)
        return allow_google_form(response, own_subdomains=True)


# The half-finished sign-in of this browser: the challenge token a code completes, where to
# go afterwards and how the password was given. The session holding them is anonymous (no
# user in it), so it can use nothing else until the code step signs the person in.
MFA_PENDING_KEY = "tnt_mfa_pending"
MFA_NEXT_KEY = "tnt_mfa_next"
MFA_VIA_KEY = "tnt_mfa_via"


def second_factor_step(
    request: HttpRequest, *, user: Any, via: str, next_url: str
) -> HttpResponse | None:
    """After a right password: the code step when the person has a second factor, the
    enrollment step when one of their orgs requires one they lack, else None (sign in)."""
    context = RequestContext.from_request(request)
    # The org the session would act in: its audit log shows the attempt (and its failures).
    membership = membership_for_person(
        user_id=user.pk, host=request.get_host(), preferred_org_id=None
    )
    if mfa.has_second_factor(user):
        raw = mfa.challenge_open(
            user=user,
            channel=MfaChallenge.Channel.PORTAL,
            login_org=membership.org if membership is not None else None,
            context=context,
        )
        target = "login-mfa"
    elif requiring := mfa.orgs_requiring(user):
        raw = mfa.enroll_walk_start(user=user, login_org=requiring[0], context=context)
        target = "login-mfa-enroll"
    else:
        return None
    if request.user.is_authenticated:
        browser_sign_out(request=request)  # whoever was signed in here is not, meanwhile
    request.session.cycle_key()
    request.session[MFA_PENDING_KEY] = raw
    request.session[MFA_NEXT_KEY] = next_url
    request.session[MFA_VIA_KEY] = via
    return HttpResponseRedirect(reverse(target))


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


def no_referrer(response: HttpResponseBase) -> HttpResponseBase:
    """For the one response whose URL carries a secret (it redirects the secret out of the
    URL): no Referer may carry it anywhere. Only there: under ``no-referrer`` a browser
    sends ``Origin: null`` with a form POST, which the CSRF check rightly refuses."""
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


class PasswordResetConfirmPage(auth_views.PasswordResetConfirmView, PortalPublicView):
    """Django's view: the token leaves the URL at once (kept in the session, then the
    browser is redirected to ``.../set-password/``); the new password goes through our
    service, which ends every other sign-in and is audited."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = super().dispatch(request, *args, **kwargs)
        if kwargs.get("token") != self.reset_url_token:  # the emailed URL, token in the path
            no_referrer(response)
        else:
            response["Cache-Control"] = "no-store"
        return response

    def form_valid(self, form: Any) -> HttpResponse:
        password_reset_finish(
            user=form.user,
            new_password=form.cleaned_data["new_password1"],
            context=RequestContext.from_request(self.request),
        )
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        # In a browser signed in as that person, its own session just ended with the others.
        browser_session_forget_if_ended(self.request)
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


class GoogleBeginPage(PortalPublicView):
    """POST (with the CSRF token) from the sign-in page: off to Google. social_django's own
    view, which keeps ``next`` and the ``state`` in the session."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, backend: str) -> HttpResponseBase:
        return social_views.auth(request, backend)


@method_decorator(csrf_exempt, name="dispatch")  # Google's redirect back: state is its check
class GoogleCompletePage(PortalPublicView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest, backend: str) -> HttpResponse:
        return google_complete(request, backend)


@never_cache
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
            enforce_org_creation(request, user_id=int(request.user.pk or 0))
        except Throttled:
            errors = {"__all__": ["Too many organizations created today; try again tomorrow."]}
            return self._render(request, values, errors, status=429)
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


INVITATION_SESSION_KEY = "tnt_invitation_token"


class InvitationLinkPage(PortalPublicView):
    """The emailed link, ``/invitations/<token>/``: keeps the token in the session and
    redirects to ``/invitations/accept/`` at once, so the token leaves the URL (Django's
    password-reset pattern). This one response sends no Referer, and the access log redacts
    the path (config.access_log)."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, token: str) -> HttpResponseBase:
        if invitation_peek(token) is None:  # nothing to keep: say so here, no session
            return no_referrer(InvitationPage().render_page(request, ""))
        request.session[INVITATION_SESSION_KEY] = token
        return no_referrer(HttpResponseRedirect(reverse("invitation-accept")))


@method_decorator(never_cache, name="dispatch")
class InvitationPage(PortalPublicView):
    """Accept the invitation whose token the link page kept in this session. Signed in as
    the invited email: one button joins. Signed in as someone else: told so, never joined.
    Signed out: set a password (a new account) or give the existing account's, or continue
    with Google (a verified email joins by itself)."""

    template_name = "accounts/invitation.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, self._token(request))

    def render_page(self, request: HttpRequest, token: str) -> HttpResponse:
        return self._render(request, token)

    def post(self, request: HttpRequest) -> HttpResponse:
        token = self._token(request)
        if _limited(request, group="accept-ip", key="ip"):
            return self._render(request, token, error=TOO_MANY, status=429)
        invitation = invitation_peek(token)
        if invitation is None:
            return self._render(request, token)
        context = RequestContext.from_request(request)
        user = request.user
        try:
            if user.is_authenticated:
                membership = invitation_accept_signed_in(
                    raw_token=token,
                    user=user,
                    context=context,
                )
                browser_session_set_org(request=request, org_id=membership.org_id)
            else:
                membership = invitation_accept(
                    raw_token=token,
                    password=request.POST.get("password") or "",
                    name=(request.POST.get("name") or "").strip()[:200],
                    context=context,
                )
                request.session.pop(INVITATION_SESSION_KEY, None)
                step = second_factor_step(
                    request, user=membership.user, via="invitation", next_url="/"
                )
                if step is not None:  # joined; signing in still owes the second factor
                    messages.success(
                        request, f"You joined {membership.org.name} as {membership.role}."
                    )
                    return step
                browser_sign_in(
                    request=request,
                    user=membership.user,
                    org_id=membership.org_id,
                    via="invitation",
                )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {}
            message = " ".join(m for ms in errors.values() for m in ms) or INVALID_CREDENTIALS
            return self._render(request, token, error=message, status=422)
        except (InvitationInvalid, InvalidCredentials):
            return self._render(request, token, error=INVALID_CREDENTIALS, status=400)
        request.session.pop(INVITATION_SESSION_KEY, None)
        messages.success(request, f"You joined {membership.org.name} as {membership.role}.")
        return HttpResponseRedirect("/")

    @staticmethod
    def _token(request: HttpRequest) -> str:
        return str(request.session.get(INVITATION_SESSION_KEY) or "")

    def _render(
        self, request: HttpRequest, token: str, *, error: str = "", status: int = 200
    ) -> HttpResponse:
        invitation = invitation_peek(token) if token else None
        user = request.user
        signed_in_email = user.email if user.is_authenticated else ""
        context = {
            "invitation": invitation,
            "error": error,
            "signed_in_email": signed_in_email,
            "other_email": bool(
                invitation and signed_in_email and signed_in_email.lower() != invitation.email
            ),
            "has_account": bool(
                invitation and User.objects.filter(email__iexact=invitation.email).exists()
            ),
            "google_enabled": google_enabled(),
            "here": request.path,
        }
        if invitation is None and status == 200:
            status = 404
        return allow_google_form(render(request, self.template_name, context, status=status))


def acting_org_id(request: HttpRequest) -> int | None:
    membership = membership_for_person(
        user_id=int(request.user.pk or 0),
        host=request.get_host(),
        preferred_org_id=request.session.get(ORG_KEY),
    )
    return membership.org_id if membership is not None else None


@method_decorator(never_cache, name="dispatch")
class AccountPage(PortalSignedInView):
    """The person's account: who they are and every session and API sign-in they have, with
    "Sign out" per row and "Sign out other devices" (GitHub's and Google's pages)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return account_page(request)


def account_page(
    request: HttpRequest, *, errors: dict[str, list[str]] | None = None, status: int = 200
) -> HttpResponse:
    """The account page; ``errors`` of a second-factor form posted to it (field -> messages)."""
    current = session_public_id(request.session.session_key or "")
    user: User = request.user  # type: ignore[assignment]
    rows = sessions_list(user=user, current_id=current)
    context = {
        "sessions": rows,
        "others": sum(1 for r in rows if not r.current),
        "mfa": mfa.mfa_status(user),
        "mfa_pending": mfa.pending_device(user) is not None,
        "mfa_errors": errors or {},
    }
    return render(request, "accounts/account.html", context, status=status)


class AccountSessionEndPage(PortalSignedInView):
    """POST: end one of the person's sessions (their own only: any other id is a 404)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, session_id: str) -> HttpResponse:
        ended = session_end(
            user=request.user,  # type: ignore[arg-type]
            session_id=session_id,
            actor=Actor.for_user(request.user, request),  # type: ignore[arg-type]
            org_id=acting_org_id(request),
        )
        if not ended:
            raise Http404("No such session")
        if session_id == session_public_id(request.session.session_key or ""):
            request.session.flush()  # that was this browser: nothing may save it back
            return HttpResponseRedirect(reverse("login"))
        messages.success(request, "Signed out of that session.")
        return HttpResponseRedirect(reverse("account"))


class AccountSignOutOthersPage(PortalSignedInView):
    """POST: end every other browser session and every API sign-in; this one stays."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        ended = sessions_end_all(
            user=request.user,  # type: ignore[arg-type]
            actor=Actor.for_user(request.user, request),  # type: ignore[arg-type]
            org_id=acting_org_id(request),
            keep_session_key=request.session.session_key or "",
        )
        messages.success(request, f"Signed out of {ended} other session(s) and API sign-in(s).")
        return HttpResponseRedirect(reverse("account"))
