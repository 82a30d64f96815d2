"""Keeps secrets out of audit metadata, whatever a caller passes."""

from typing import Any

# A field is secret when its name's last word (snake_case or joined) is one of these:
# "password", "refresh_token", "raw_key", "apikey" and "webhook_secret" are; "api_key_id",
# "new_key_id", "key_prefix" and "old_key_ends_at" name things about a secret, not the secret.
_SECRET_WORDS = (
    "password", "passwd", "passphrase", "secret", "token", "key", "apikey",
    "authorization", "cookie", "credential", "credentials",
)  # fmt: skip
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def _redact_field(name: str, value: Any) -> Any:
    last_word = name.lower().replace("-", "_").rsplit("_", 1)[-1].rstrip("0123456789")
    if last_word in _SECRET_WORDS or last_word.endswith(("password", "token", "secret")):
        return REDACTED
    return redact(value)
