"""Portal forms of API keys: they parse and keep values; ``apikeys.services`` decides."""

from datetime import UTC, datetime, time
from typing import Any

from django import forms

from orgs.roles import ACTIONS

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
