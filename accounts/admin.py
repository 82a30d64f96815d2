from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from accounts import audit_actions
from accounts.models import User
from accounts.signin import revoke_all_families
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

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Bulk delete bypasses delete_model (and so the audit); users are deleted one by one.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # Django's form saves the password itself; wrap it so a staff reset is audited and,
        # like any password change, ends every sign-in of the user, in one transaction.
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = User.objects.get(pk=unquote(id))
                ended = revoke_all_families(user, reason="password_set_by_staff")
                record(
                    org_id=None,
                    action=audit_actions.USER_PASSWORD_CHANGED,
                    actor=Actor.for_user(request.user, request),  # type: ignore[arg-type]
                    target=user,
                    metadata={"via": "admin", "families_revoked": ended},
                )
        return response
