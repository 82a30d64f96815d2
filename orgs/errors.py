"""Errors services raise that are not about the input's shape."""

from django.core.exceptions import ValidationError


class Conflict(ValidationError):
    """The write is well formed but contradicts the current state: a slug that is taken, an
    invitation already pending, a key already rolled. The API renders it as ``409 conflict``
    (details name the field, like a 422's); retrying the same request cannot succeed. It is a
    ``ValidationError`` for callers that only tell valid from invalid (commands, the admin)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__({field: [message]} if field else message)
        self.conflict_message = message
        self.field = field
