"""Pre-write hooks in the portal (the API's routes are in ``hooks.urls``)."""

from django.urls import URLPattern, path

from hooks import views

urlpatterns: list[URLPattern] = [
    path("settings/hooks/", views.HookListView.as_view(), name="portal-hooks"),
    path("settings/hooks/new/", views.HookCreateView.as_view(), name="portal-hook-create"),
    path("settings/hooks/<int:pk>/", views.HookDetailView.as_view(), name="portal-hook"),
    path("settings/hooks/<int:pk>/edit/", views.HookEditView.as_view(), name="portal-hook-edit"),
    path("settings/hooks/<int:pk>/test/", views.HookTestView.as_view(), name="portal-hook-test"),
    path(
        "settings/hooks/<int:pk>/enabled/",
        views.HookEnabledView.as_view(),
        name="portal-hook-enabled",
    ),
    path(
        "settings/hooks/<int:pk>/delete/", views.HookDeleteView.as_view(), name="portal-hook-delete"
    ),
]
