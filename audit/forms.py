"""The audit log's filter form in the portal: the selector's filters, as fields."""

from datetime import UTC
from typing import Any

from django import forms

from audit.registry import all_actions


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False)
    actor = forms.ChoiceField(required=False, label="Actor")
    target_type = forms.CharField(
        required=False, max_length=64, label="Target type", help_text="e.g. apikeys.apikey"
    )
    target_id = forms.CharField(required=False, max_length=64, label="Target id")
    since = forms.DateTimeField(
        required=False,
        label="From (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        required=False,
        label="Until (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args: Any, members: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action")] + [  # type: ignore[attr-defined]
            (a.name, a.name) for a in all_actions()
        ]
        self.fields["actor"].choices = [  # type: ignore[attr-defined]
            ("", "Anyone"),
            ("system", "The system"),
        ] + [(f"user:{pk}", email) for pk, email in members]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "Must be later than From")
        return data

    def selector_filters(self) -> dict[str, Any]:
        """``audit_event_list``'s keyword arguments (naive times are UTC)."""
        data = self.cleaned_data
        filters: dict[str, Any] = {}
        if data.get("action"):
            filters["action"] = data["action"]
        actor = data.get("actor") or ""
        if actor == "system":
            filters["actor_type"] = "system"
        elif actor.startswith("user:"):
            filters["actor_type"], filters["actor_id"] = "user", actor.removeprefix("user:")
        for name in ("target_type", "target_id"):
            if data.get(name):
                filters[name] = data[name]
        for name, key in (("since", "occurred_after"), ("until", "occurred_before")):
            value = data.get(name)
            if value is not None:
                filters[key] = value if value.tzinfo else value.replace(tzinfo=UTC)
        return filters
