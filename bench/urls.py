"""The app's URLconf plus the comparison views, under /api/ so that they pass through
exactly the middleware the app's API routes pass through."""

from django.urls import URLPattern, URLResolver, include, path

from bench import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/_bench/django-health", views.django_health),
    path("api/_bench/drf-noauth", views.DrfNoAuth.as_view()),
    path("api/_bench/drf-api-key", views.DrfApiKeyMe.as_view()),
    path("api/_bench/floor", views.floor),
    path("", include("config.urls")),
]
