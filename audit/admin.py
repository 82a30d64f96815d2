from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.models import AuditEvent
from audit.readonly_admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit trail is append-only, in the admin as everywhere."""

    list_display = ("occurred_at", "org_id", "action", "actor_label", "target_type", "target_id")
    list_filter = ("action", "actor_type")
    search_fields = ("actor_label", "target_label", "request_id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        return AuditEvent.dangerously_unscoped.all()  # the staff console spans orgs
