"""Portal forms of API keys: they parse and keep values; ``apikeys.services`` decides."""

from datetime import UTC, datetime, time
from typing import Any

from django import forms

from orgs.roles import ACTIONS, Role

GRACE_CHOICES = [
    ("0", "End the old key now"),
    ("3600", "1 hour"),
    ("86400", "24 hours"),
    ("604800", "7 days"),
]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


class APIKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text='What uses it, e.g. "CI pipeline" or "Billing backend".'
    )
    env = forms.ChoiceField(
        label="Environment",
        choices=[("live", "Live"), ("test", "Test")],
        initial="live",
        widget=forms.RadioSelect,
    )
    expires_at = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="At 00:00 UTC that day. Leave empty for a key that does not expire.",
    )
    scopes = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: everything your role allows. The key never exceeds your role.",
    )
    allowed_origins = forms.CharField(
        label="Allowed origins",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, e.g. https://app.example.com. Empty: any origin.",
    )
    allowed_ips = forms.CharField(
        label="Allowed IP addresses",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One address or CIDR block per line, e.g. 203.0.113.0/24. Empty: any.",
    )

    def __init__(self, *args: Any, actions: frozenset[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The scopes on offer are the actions of the roles table that this person holds.
        self.fields["scopes"].choices = [  # type: ignore[attr-defined]
            (a, f"{a} — {ACTIONS[a]}") for a in ACTIONS if a in actions
        ]

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        day = data.get("expires_at")
        return {
            "name": data["name"],
            "env": data["env"],
            "expires_at": datetime.combine(day, time(0), tzinfo=UTC) if day else None,
            "scopes": list(data["scopes"]) or None,
            "allowed_origins": _lines(data["allowed_origins"]),
            "allowed_ips": _lines(data["allowed_ips"]),
        }


class APIKeyRollForm(forms.Form):
    grace_seconds = forms.TypedChoiceField(
        label="Keep the old key working for",
        choices=GRACE_CHOICES,
        coerce=int,
        initial="3600",
        help_text="Time to deploy the new key everywhere; then the old one stops working.",
    )
    expires_at = forms.DateField(
        label="New key expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="At 00:00 UTC that day. Leave empty to keep the old key's expiry.",
    )

    def new_expiry(self) -> datetime | None:
        day = self.cleaned_data.get("expires_at")
        return datetime.combine(day, time(0), tzinfo=UTC) if day else None


ENV_CHOICES = [("live", "Live"), ("test", "Test")]


class APIKeyPolicyForm(forms.Form):
    """The org's API-key policy; per role, a field for environments and one for scopes."""

    max_lifetime_days = forms.IntegerField(
        label="Maximum lifetime (days)",
        required=False,
        min_value=1,
        max_value=3650,
        help_text="New and rolled keys must expire within this many days. Empty: no limit.",
    )
    revoke_unused_after_days = forms.IntegerField(
        label="Revoke keys unused for (days)",
        required=False,
        min_value=14,
        max_value=3650,
        help_text="The daily sweep revokes them, at least a week after emailing the owners. "
        "Empty: never.",
    )
    max_active_keys_per_member = forms.IntegerField(
        label="Active keys per member",
        required=False,
        min_value=1,
        max_value=10_000,
        help_text="Empty: no limit.",
    )
    require_ip_allowlist_for_live = forms.BooleanField(
        label="Live keys must carry an IP allow-list", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for role in Role:
            self.fields[f"env_{role.value}"] = forms.MultipleChoiceField(
                label=f"Environments {role.value}s may create keys in",
                choices=ENV_CHOICES,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                initial=["live", "test"],
            )
            self.fields[f"limit_scopes_{role.value}"] = forms.BooleanField(
                label=f"Limit the scopes of {role.value}s' new keys", required=False
            )
            self.fields[f"scopes_{role.value}"] = forms.MultipleChoiceField(
                label=f"Scopes {role.value}s' keys may hold",
                choices=[(a, a) for a in ACTIONS],
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )

    @classmethod
    def initial_from(cls, policy: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "max_lifetime_days": policy.max_lifetime_days,
            "revoke_unused_after_days": policy.revoke_unused_after_days,
            "max_active_keys_per_member": policy.max_active_keys_per_member,
            "require_ip_allowlist_for_live": policy.require_ip_allowlist_for_live,
        }
        for role in Role:
            initial[f"env_{role.value}"] = policy.allowed_environments.get(
                role.value, ["live", "test"]
            )
            ceiling = policy.scope_ceilings.get(role.value)
            initial[f"limit_scopes_{role.value}"] = ceiling is not None
            initial[f"scopes_{role.value}"] = ceiling or []
        return initial

    def per_role(self) -> list[dict[str, Any]]:
        """The per-role fields, bound, for the template."""
        return [
            {
                "role": role.value,
                "env": self[f"env_{role.value}"],
                "limit": self[f"limit_scopes_{role.value}"],
                "scopes": self[f"scopes_{role.value}"],
            }
            for role in Role
        ]

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        environments = {
            role.value: list(data[f"env_{role.value}"])
            for role in Role
            if set(data[f"env_{role.value}"]) != {"live", "test"}
        }
        ceilings = {
            role.value: list(data[f"scopes_{role.value}"])
            for role in Role
            if data[f"limit_scopes_{role.value}"]
        }
        return {
            "max_lifetime_days": data["max_lifetime_days"],
            "revoke_unused_after_days": data["revoke_unused_after_days"],
            "max_active_keys_per_member": data["max_active_keys_per_member"],
            "require_ip_allowlist_for_live": data["require_ip_allowlist_for_live"],
            "allowed_environments": environments,
            "scope_ceilings": ceilings,
        }
