from collections.abc import Callable
from typing import Any

from csp import middleware as csp
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from config.errors import error_response
from config.request_id import accept_or_generate, current_request_id

Handler = Callable[[HttpRequest], HttpResponse]


class RequestIdMiddleware:
    """Accepts the caller's X-Request-ID (or makes a `req_...` one) and echoes it back."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # (META, not request.headers: that builds a mapping of every header, which nothing
        # else on an API request's path asks for.)
        request_id = accept_or_generate(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware does not set (it sets HSTS on https, nosniff,
    Referrer-Policy and COOP).

    ``Cache-Control: no-store`` on everything that may carry a secret or personal data: every
    API answer but the public OpenAPI document, the admin, and any page for a signed-in
    person. A shared cache or the browser's disk never keeps a key, a token or a member list.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("X-Content-Type-Options", "nosniff")
        if _may_carry_personal_data(request):
            response["Cache-Control"] = "no-store"
        return response


_PUBLIC_DOCUMENTS = ("/api/docs.json",)


def _may_carry_personal_data(request: HttpRequest) -> bool:
    path = request.path
    if path.startswith("/api/") or path.startswith("/admin/"):
        return path not in _PUBLIC_DOCUMENTS
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class BodySizeLimitMiddleware:
    """An API request announcing a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB) is a 413
    in the error shape before anything reads it. (The JSON parser also stops reading at the
    limit, for a body whose length was not announced.)"""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0  # Django reads such a body as empty
            if length > limit:
                return error_response(
                    request, status=413, message="Request body too large", code="invalid_request"
                )
        return self.get_response(request)


class AmbiguousCredentialsMiddleware:
    """An API request with two different credentials (``Authorization`` and ``X-API-Key``
    naming different things) is a 401: serving it as whichever one happens to be valid would
    hide a client's mistake, or let a junk header ride along with a stolen one. The same key
    in both headers is one credential. (A session cookie is ambient, not presented: a header
    credential is what such a request means.)"""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            api_key = request.META.get("HTTP_X_API_KEY", "").strip()
            authorization = request.META.get("HTTP_AUTHORIZATION", "").strip()
            if api_key and authorization and _credential(authorization) != api_key:
                response = error_response(
                    request,
                    status=401,
                    message="Ambiguous credentials: send one of Authorization or X-API-Key",
                    code="unauthorized",
                )
                response["WWW-Authenticate"] = 'Bearer realm="api"'
                return response
        return self.get_response(request)


def _credential(authorization: str) -> str:
    scheme, _, rest = authorization.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else authorization


def is_cookieless_api_request(request: HttpRequest) -> bool:
    """An API request that carries no session cookie: a key or a JWT (or nothing) is all it
    can authenticate with, so the browser's middleware has nothing to do for it. (Answered
    once per request: the three browser-only middleware ask in turn.)"""
    known = request.__dict__.get("_cookieless_api")
    if known is None:
        known = request._cookieless_api = (  # type: ignore[attr-defined]
            request.path_info.startswith("/api/")
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
        )
    return known


class _BrowserOnly:
    """Passes cookieless API requests straight on; everything else (every portal page, and
    every API request with the session cookie, whose unsafe methods DRF's session
    authentication holds to CSRF) goes through the middleware as Django ships it. A subclass
    of Django's class, so Django's checks still find it."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_cookieless_api_request(request):
            return self.get_response(request)  # type: ignore[attr-defined]
        return super().__call__(request)  # type: ignore[misc]


class SessionMiddleware(_BrowserOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(_BrowserOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(messages.MessageMiddleware):
    """Django's, for pages only: the API neither adds nor reads flash messages (only portal
    views use ``django.contrib.messages``, and one that tried under /api/ would fail loudly
    with ``MessageFailure``), so no API request builds the storage, session cookie or not
    (~4% of a session-authenticated ``/api/users/me``, profiled: README "Performance")."""

    def __call__(self, request: HttpRequest) -> Any:
        if request.path_info.startswith("/api/"):
            return self.get_response(request)
        return super().__call__(request)


# --- Content-Security-Policy ----------------------------------------------------------------

# report_only -> the settings' policy, and "headers" -> _built_headers(), built once
_built_policies: dict[Any, Any] = {}


@receiver(setting_changed)
def _forget_built_policies(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _built_policies.clear()


class CSPMiddleware(csp.CSPMiddleware):
    """django-csp's middleware, building the settings' policy once per process.

    django-csp builds the header from the settings on every response (~60 µs a response).
    A response that used no nonce and did not change its own policy (every API answer)
    gets the same string every time, so that string is built once (and again when a test
    overrides the settings); a page with a nonce or its own policy (``allow_google_form``)
    goes through django-csp's own code, as before.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or (
            not _PER_RESPONSE_NAMES.isdisjoint(vars(response))  # (a set attribute, if any)
            and any(getattr(response, name, None) is not None for name in _PER_RESPONSE)
        ):
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in (404, 500):
            return response  # django-csp leaves Django's debug pages alone
        for header, policy, exempt, excluded in _built_headers():
            if (
                header not in response
                and not getattr(response, exempt, False)
                and not request.path_info.startswith(excluded)
            ):
                response[header] = policy
        # As django-csp does: a nonce asked for after the header is written is an error (one
        # lazy object serves every response: it holds nothing and only ever raises).
        request.csp_nonce = _NONCE_AFTER_RESPONSE  # type: ignore[attr-defined]
        return response


# What a view may set on its response to change its own policy (django-csp's decorators).
_PER_RESPONSE = (
    "_csp_config", "_csp_update", "_csp_replace",
    "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro",
)  # fmt: skip
_HEADERS = (
    (False, HEADER, "_csp_exempt"),
    (True, HEADER_REPORT_ONLY, "_csp_exempt_ro"),
)
_SETTING = {False: "CONTENT_SECURITY_POLICY", True: "CONTENT_SECURITY_POLICY_REPORT_ONLY"}
_PER_RESPONSE_NAMES = frozenset(_PER_RESPONSE)
_NONCE_AFTER_RESPONSE = csp.CheckableLazyObject(csp.CSPMiddleware._csp_nonce_post_response)


def _built_headers() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(header, the settings' policy, the response's exemption attribute, the settings'
    excluded path prefixes) of each policy the settings define, built once."""
    headers = _built_policies.get("headers")
    if headers is None:
        headers = _built_policies["headers"] = [
            (header, policy, exempt, tuple(_excluded(report_only)))
            for report_only, header, exempt in _HEADERS
            if (policy := _built_policy(report_only))
        ]
    return headers


def _excluded(report_only: bool) -> Any:
    return (getattr(settings, _SETTING[report_only], None) or {}).get("EXCLUDE_URL_PREFIXES") or ()


def _built_policy(report_only: bool) -> str:
    policy = _built_policies.get(report_only)
    if policy is None:
        policy = _built_policies[report_only] = build_policy(report_only=report_only)
    return policy
