"""The audit log in the portal (the API's routes are in ``audit.urls``)."""

from django.urls import URLPattern, path

from audit import views

urlpatterns: list[URLPattern] = [
    path("settings/audit-log/", views.AuditLogView.as_view(), name="portal-audit-log"),
    path("settings/audit-log/export/", views.AuditExportView.as_view(), name="portal-audit-export"),
    path(
        "settings/audit-log/<int:pk>/",
        views.AuditEventDetailView.as_view(),
        name="portal-audit-event",
    ),
]
