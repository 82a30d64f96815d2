"""Errors services raise that are not about the input's shape."""

from dataclasses import dataclass

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


class Conflict(ValidationError):
    """The write is well formed but contradicts the current state: a slug that is taken, an
    invitation already pending, a key already rolled. The API renders it as ``409 conflict``
    (details name the field, like a 422's); retrying the same request cannot succeed. It is a
    ``ValidationError`` for callers that only tell valid from invalid (commands, the admin)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__({field: [message]} if field else message)
        self.conflict_message = message
        self.field = field


@dataclass(frozen=True)
class Violation:
    """One rule of an org's own policy that a write breaks: the rule's code (stable, for
    machines), the request field it is about (None: the request as a whole) and a message
    that names the rule (for people)."""

    rule: str
    field: str | None
    message: str


class PolicyViolation(ValidationError):
    """The write is well formed but the organization's own policy refuses it (the API-key
    policy: a key that would live too long, a scope above the role's ceiling...). The API
    renders it as ``422 policy_violation`` with ``details.rules`` (the rule codes) beside
    the usual ``fieldErrors``/``formErrors``; forms show each message next to its field."""

    def __init__(self, violations: list[Violation]) -> None:
        errors: dict[str, list[str]] = {}
        for violation in violations:
            errors.setdefault(violation.field or NON_FIELD_ERRORS, []).append(violation.message)
        super().__init__(errors)
        self.violations = violations

    @property
    def rules(self) -> list[str]:
        return list(dict.fromkeys(v.rule for v in self.violations))

    @property
    def summary(self) -> str:
        return "Refused by the organization's API-key policy: " + "; ".join(
            v.message for v in self.violations
        )
