"""Keeps secrets out of audit metadata, whatever a caller passes."""

from typing import Any

_SECRET_WORDS = ("password", "secret", "token", "key", "authorization", "cookie")
# Fields that contain one of those words but are safe, public identifiers.
_ALLOWED = {"key_id", "key_prefix", "api_key_id", "prefix", "last_four"}
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def _redact_field(name: str, value: Any) -> Any:
    lowered = name.lower()
    if lowered not in _ALLOWED and any(word in lowered for word in _SECRET_WORDS):
        return REDACTED
    return redact(value)
