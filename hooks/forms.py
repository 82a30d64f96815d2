"""Portal form of pre-write hooks: it parses; ``hooks.services`` validates."""

from django import forms

from hooks.models import HOOKABLE_ACTIONS, PreWriteHook


class PreWriteHookForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=2048,
        widget=forms.URLInput,
        help_text="HTTPS. Asked before each chosen write, signed the Standard Webhooks way; "
        'it answers {"allow": true} or {"allow": false, "reason": "..."}.',
    )
    description = forms.CharField(required=False, max_length=255)
    actions = forms.MultipleChoiceField(
        label="Writes to ask about",
        choices=[(name, f"{name}: {text}") for name, text in HOOKABLE_ACTIONS.items()],
        widget=forms.CheckboxSelectMultiple,
    )
    failure_mode = forms.ChoiceField(
        label="When the hook cannot answer",
        choices=PreWriteHook.FailureMode.choices,
        initial=PreWriteHook.FailureMode.CLOSED,
        widget=forms.RadioSelect,
        help_text="No answer in time, an error, or an answer that is not the verdict.",
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)
