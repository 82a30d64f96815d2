"""The staff console for users. Every write goes through ``accounts.services``."""

from contextvars import ContextVar
from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import mfa
from accounts.models import User
from accounts.services import user_delete_by_staff, user_password_set_by_staff, user_save_by_staff
from audit.actors import Actor

# The staff member of the request whose password form is being saved (Django builds the form
# itself, without the request): set around the admin's password view only.
_staff_actor: ContextVar[Actor] = ContextVar("staff_actor")


def _actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, request)  # type: ignore[arg-type]


class StaffPasswordForm(AdminPasswordChangeForm):
    """Django's form validates and hashes; the service stores, ends sign-ins and audits."""

    def save(self, commit: bool = True) -> Any:
        user = self.set_password_and_save(self.user, commit=False)  # type: ignore[attr-defined]
        if commit:
            user_password_set_by_staff(actor=_staff_actor.get(), user=user)
        return user


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
    change_password_form = StaffPasswordForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        user_save_by_staff(
            actor=_actor(request), user=obj, created=not change, changed=list(form.changed_data)
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        user_delete_by_staff(actor=_actor(request), user=obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Bulk delete bypasses delete_model (and so the service); users go one by one.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        token = _staff_actor.set(_actor(request))
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _staff_actor.reset(token)


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's own password form opens a full session, so a person with a second factor
    may not use it: they sign in through /login/ (password, then code), whose session the
    admin accepts as it is."""

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if mfa.has_second_factor(user):
            raise ValidationError(
                "This account uses two-factor authentication: sign in at /login/ first, "
                "then open the admin.",
                code="mfa_required",
            )


admin.site.login_form = AdminLoginForm

# django-otp registers its device admin, where staff could add, edit or delete a person's
# second factor unaudited (and read its secret). Devices change only through accounts.mfa.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
