"""Settings > API Keys in the portal (the API's routes are in ``apikeys.urls``)."""

from django.urls import URLPattern, path

from apikeys import views

urlpatterns: list[URLPattern] = [
    path("settings/api-keys/", views.APIKeyListView.as_view(), name="portal-api-keys"),
    path(
        "settings/api-keys/policy/",
        views.APIKeyPolicyPortalView.as_view(),
        name="portal-api-key-policy",
    ),
    path("settings/api-keys/new/", views.APIKeyCreateView.as_view(), name="portal-api-key-create"),
    path("settings/api-keys/created/", views.APIKeyNewView.as_view(), name="portal-api-key-new"),
    path(
        "settings/api-keys/<int:pk>/revoke/",
        views.APIKeyRevokeView.as_view(),
        name="portal-api-key-revoke",
    ),
    path(
        "settings/api-keys/<int:pk>/roll/",
        views.APIKeyRollView.as_view(),
        name="portal-api-key-roll",
    ),
]
