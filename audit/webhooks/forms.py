"""Portal form of webhook endpoints: it parses; ``audit.webhooks.services`` validates."""

from typing import Any

from django import forms

from audit.registry import all_actions


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2048,
        widget=forms.URLInput,
        help_text="Where events are POSTed, signed the Standard Webhooks way.",
    )
    description = forms.CharField(required=False, max_length=255)
    event_types = forms.MultipleChoiceField(
        label="Events",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event_types"].choices = [  # type: ignore[attr-defined]
            (a.name, a.name) for a in all_actions()
        ]
