"""Webhooks in the portal (the API's routes are in ``audit.webhooks.urls``)."""

from django.urls import URLPattern, path

from audit.webhooks import views

urlpatterns: list[URLPattern] = [
    path("settings/webhooks/", views.WebhookListView.as_view(), name="portal-webhooks"),
    path("settings/webhooks/new/", views.WebhookCreateView.as_view(), name="portal-webhook-create"),
    path("settings/webhooks/<int:pk>/", views.WebhookDetailView.as_view(), name="portal-webhook"),
    path(
        "settings/webhooks/<int:pk>/test/",
        views.WebhookTestView.as_view(),
        name="portal-webhook-test",
    ),
    path(
        "settings/webhooks/<int:pk>/enabled/",
        views.WebhookEnabledView.as_view(),
        name="portal-webhook-enabled",
    ),
    path(
        "settings/webhooks/<int:pk>/deliveries/<int:delivery_pk>/retry/",
        views.WebhookRetryView.as_view(),
        name="portal-webhook-retry",
    ),
    path(
        "settings/webhooks/<int:pk>/delete/",
        views.WebhookDeleteView.as_view(),
        name="portal-webhook-delete",
    ),
]
