"""Pre-write hooks over the API. The services validate URLs and actions (https, no private
addresses, hookable actions); these only shape."""

from typing import Any

from rest_framework import serializers

from hooks.models import HOOKABLE_ACTIONS, PreWriteHook
from orgs.fields import StrictBooleanField, StrictCharField

ACTION_HELP = "Writes the hook is asked about: " + ", ".join(HOOKABLE_ACTIONS)
FAILURE_MODE_HELP = (
    "What a write does when the hook cannot answer (timeout, error, not the documented "
    "verdict): open lets it through, closed refuses it"
)


class PreWriteHookSerializer(serializers.ModelSerializer[PreWriteHook]):
    """A hook as it is read back: never its signing secret."""

    actions = serializers.ListField(
        child=serializers.ChoiceField(choices=list(HOOKABLE_ACTIONS)), help_text=ACTION_HELP
    )

    class Meta:
        model = PreWriteHook
        fields = [
            "id",
            "url",
            "description",
            "actions",
            "failure_mode",
            "enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PreWriteHookCreatedSerializer(PreWriteHookSerializer):
    secret = serializers.CharField(
        help_text="whsec_...: signs every call (Standard Webhooks). Returned once, here."
    )

    class Meta(PreWriteHookSerializer.Meta):
        fields = [*PreWriteHookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class PreWriteHookCreateSerializer(serializers.Serializer[Any]):
    url = StrictCharField(trim_whitespace=True)
    actions = serializers.ListField(child=StrictCharField(), help_text=ACTION_HELP)
    description = StrictCharField(required=False, allow_blank=True, default="")
    failure_mode = serializers.ChoiceField(
        choices=PreWriteHook.FailureMode.choices,
        required=False,
        default=PreWriteHook.FailureMode.CLOSED,
        help_text=FAILURE_MODE_HELP,
    )
    enabled = StrictBooleanField(required=False, default=True)


class PreWriteHookUpdateSerializer(serializers.Serializer[Any]):
    url = StrictCharField(required=False, trim_whitespace=True)
    actions = serializers.ListField(child=StrictCharField(), required=False)
    description = StrictCharField(required=False, allow_blank=True)
    failure_mode = serializers.ChoiceField(
        choices=PreWriteHook.FailureMode.choices, required=False, help_text=FAILURE_MODE_HELP
    )
    enabled = StrictBooleanField(required=False)


class HookTestResultSerializer(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(
        choices=["allowed", "denied", "timeout", "error", "bad_answer"],
        help_text="allowed / denied: the hook's verdict; otherwise why there was none",
    )
    reason = serializers.CharField(help_text="The hook's reason, or what went wrong")
    status_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField()
    writes_would_proceed = serializers.BooleanField(
        help_text="What a real write would do with this answer, the failure mode applied"
    )
