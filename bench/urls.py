"""The app's URLconf plus the comparison views, under /api/ so that they pass through
exactly the middleware the app's API routes pass through (rate limiting excepted).

All of it behind one remembering resolver (``config.resolving``), as ``config.urls`` is in
production: the comparison routes resolve at the same cost as the app's, and the app's do
not pay for trying the comparisons first (which production never does)."""

from collections.abc import Callable

from django.http import HttpResponseBase
from django.urls import URLPattern, URLResolver, include, path

from bench import views
from config import ratelimiting
from config.resolving import remembered

COMPARISONS: dict[str, Callable[..., HttpResponseBase]] = {
    "api/_bench/django-health": views.django_health,
    "api/_bench/drf-noauth": views.DrfNoAuth.as_view(),
    "api/_bench/drf-api-key": views.DrfApiKeyMe.as_view(),
    "api/_bench/floor": views.floor,
}
# The comparisons stand for what people would use instead, which limits nothing: they are
# kept out of Tenantry's rate limiting (a Redis round trip per request), which ours pays.
ratelimiting.EXEMPT_PATHS = ratelimiting.EXEMPT_PATHS | {f"/{p}" for p in COMPARISONS}

urlpatterns: list[URLPattern | URLResolver] = remembered(
    [
        *(path(route, view) for route, view in COMPARISONS.items()),
        path("", include("config.urls")),
    ]
)
