"""Strict serializer fields for request bodies: a field the schema calls a string or a
boolean accepts only that JSON type.

DRF's own fields coerce: ``CharField`` turns ``0`` into ``"0"`` and ``BooleanField`` takes
``0``, ``"off"``, ``"no"`` and ``"0"`` for false, so ``{"jwt_enabled": 0}`` would switch JWT
sign-in off. A generated client never sends those; a careless or hostile one should hear
422, not have its guess acted on.
"""

import unicodedata
from typing import Any

from rest_framework import serializers

# Cc: C0 and C1 controls (CR, LF, TAB, NUL, DEL...); Zl/Zp: the Unicode line and paragraph
# separators. None belongs in a name, and CR/LF in one ends up in a mail header.
_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in value)


class _StrictString:
    """Refuses anything but a JSON string, and (unless ``allow_control_characters``)
    control characters."""

    def __init__(self, *args: Any, allow_control_characters: bool = False, **kwargs: Any):
        self.allow_control_characters = allow_control_characters
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string", code="invalid")
        if not self.allow_control_characters and has_control_characters(data):
            raise serializers.ValidationError("Must not contain control characters", code="invalid")
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(_StrictString, serializers.CharField):
    pass


class StrictSlugField(_StrictString, serializers.SlugField):
    pass


class StrictEmailField(_StrictString, serializers.EmailField):
    pass


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("Must be true or false", code="invalid")
        return data
