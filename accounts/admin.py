from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.http import HttpRequest

from accounts import audit_actions
from accounts.models import User
from audit.actors import Actor
from audit.services import record


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "name", "is_active", "is_staff", "date_joined")
    search_fields = ("email", "name")
    list_filter = ("is_active", "is_staff")
    fieldsets = (
        (None, {"fields": ("email", "password", "name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    filter_horizontal = ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Staff edits are writes like any other: audited in the same transaction.
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            action = audit_actions.USER_UPDATED if change else audit_actions.USER_CREATED
            changed = sorted(set(form.changed_data) - {"password", "password1", "password2"})
            record(
                org_id=None,
                action=action,
                actor=Actor.for_user(request.user, request),  # type: ignore[arg-type]
                target=obj,
                metadata={"changed": changed, "via": "admin"},
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            record(
                org_id=None,
                action=audit_actions.USER_DELETED,
                actor=Actor.for_user(request.user, request),  # type: ignore[arg-type]
                target=obj,
                metadata={"via": "admin"},
            )
            super().delete_model(request, obj)
