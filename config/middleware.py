from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponse

from config.request_id import accept_or_generate, current_request_id

Handler = Callable[[HttpRequest], HttpResponse]


class RequestIdMiddleware:
    """Accepts the caller's X-Request-ID (or makes a `req_...` one) and echoes it back."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accept_or_generate(request.headers.get("X-Request-ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware does not set. API answers are never cached."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.path.startswith("/api/") and not request.path.startswith("/api/docs"):
            response.setdefault("Cache-Control", "no-store")
        return response


def is_cookieless_api_request(request: HttpRequest) -> bool:
    """An API request that carries no session cookie: a key or a JWT (or nothing) is all it
    can authenticate with, so the browser's middleware has nothing to do for it."""
    return (
        request.path_info.startswith("/api/")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    )


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


class MessageMiddleware(_BrowserOnly, messages.MessageMiddleware):
    pass
