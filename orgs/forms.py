"""Portal forms of orgs: they parse and keep values; the services decide."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from orgs.roles import Role

ROLE_CHOICES = [(r.value, r.value.capitalize()) for r in Role]


def apply_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError next to the fields it names (else at the top)."""
    if hasattr(error, "error_dict"):
        for name, messages in error.message_dict.items():
            form.add_error(name if name in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(
        choices=ROLE_CHOICES,
        initial=Role.MEMBER.value,
        help_text="Nobody can grant a role above their own; only owners grant owner.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class OrganizationForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)

    def changes(self) -> dict[str, Any]:
        return {"name": self.cleaned_data["name"]}


class JwtSwitchForm(forms.Form):
    jwt_enabled = forms.BooleanField(
        label="Allow sign-in tokens (JWT) for the API",
        required=False,
        help_text="Off: API sign-in with a password is refused and requests with a JWT answer "
        "403 jwt_disabled; API keys and this portal still work, so an owner can switch it back.",
    )


class EmailDomainsForm(forms.Form):
    allowed_email_domains = forms.CharField(
        label="Allowed email domains",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=(
            "One per line, e.g. acme.com. Whoever signs in with Google under a verified "
            "address at one of them joins this organization. Empty: invitations only."
        ),
    )
    default_role = forms.ChoiceField(
        label="They join as",
        choices=[c for c in ROLE_CHOICES if c[0] != Role.OWNER.value],
        initial=Role.MEMBER.value,
    )

    def domains(self) -> list[str]:
        text = self.cleaned_data["allowed_email_domains"]
        return [d.strip() for d in text.replace(",", "\n").splitlines() if d.strip()]
