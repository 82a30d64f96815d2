from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from accounts.wellknown import JWKSView
from config import ratelimiting, views
from config.metrics import MetricsView
from config.resolving import remembered

api_patterns: list[URLPattern | URLResolver] = [
    path("health", views.HealthView.as_view(), name="health"),
    path("health/ready", views.ReadyView.as_view(), name="health-ready"),
    path("docs.json", views.OpenAPIDocumentView.as_view(), name="openapi-schema"),
    path("", include("accounts.urls")),
    path("", include("orgs.urls")),
    path("", include("apikeys.urls")),
    path("", include("audit.urls")),
    path("", include("usage.urls")),
    path("", include("audit.webhooks.urls")),
    path("", include("hooks.urls")),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path(".well-known/jwks.json", JWKSView.as_view(), name="jwks"),
    path("api/", include(api_patterns)),
    # Unknown /api/ paths answer in the error shape even with DEBUG on.
    re_path(r"^api/(?P<path>.*)$", views.api_not_found),
    # The split view serves its start-up script as a file (?script=): no inline script, so
    # the page runs under a Content-Security-Policy without 'unsafe-inline'.
    path(
        "developers/api",
        views.APIReferenceView.as_view(url_name="openapi-schema"),
        name="api-reference",
    ),
    # Sign-in attempts limited per address and username, then Django's own login view.
    path("admin/login/", ratelimiting.admin_login, name="admin-login-limited"),
    path("admin/", admin.site.urls),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("", include("accounts.page_urls")),
    # The portal: server-rendered pages on the same services as the API.
    path("", include("orgs.portal_urls")),
    path("", include("apikeys.portal_urls")),
    path("", include("audit.portal_urls")),
    path("", include("audit.webhooks.portal_urls")),
    path("", include("hooks.portal_urls")),
]
# Behind one resolver that remembers what a fixed path resolves to (config.resolving).
urlpatterns = remembered(urlpatterns)

handler400 = "config.views.handler400"
handler403 = "config.views.handler403"
handler404 = "config.views.handler404"
handler500 = "config.views.handler500"
