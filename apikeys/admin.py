from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apikeys.models import APIKey


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    """Read-only: keys are created, rolled and revoked through the audited services."""

    list_display = ("prefix", "name", "org", "created_by", "created_at", "revoked_at")
    list_filter = ("env",)
    search_fields = ("name", "prefix")
    exclude = ("key_hash", "pepper_id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[APIKey]:
        return APIKey.unscoped.select_related("org", "created_by")  # staff console spans orgs

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
