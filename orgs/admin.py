from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.readonly_admin import ReadOnlyAdmin
from orgs.models import Membership, Organization


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdmin):
    list_display = ("slug", "name", "created_at", "jwt_enabled")
    search_fields = ("slug", "name")


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ("org", "user", "role", "status", "created_at")
    list_filter = ("role", "status")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # Staff console spans orgs on purpose.
        return Membership.dangerously_unscoped.select_related("org", "user")
