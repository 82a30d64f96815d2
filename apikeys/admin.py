from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apikeys.models import APIKey
from audit.readonly_admin import ReadOnlyAdmin


@admin.register(APIKey)
class APIKeyAdmin(ReadOnlyAdmin):
    """Read-only: keys are created, rolled and revoked through the audited services."""

    list_display = ("prefix", "name", "org", "created_by", "created_at", "revoked_at")
    list_filter = ("env",)
    search_fields = ("name", "prefix")
    exclude = ("key_hash", "pepper_id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[APIKey]:
        return APIKey.dangerously_unscoped.select_related(
            "org", "created_by"
        )  # staff console spans orgs
