"""What a refused write raises. A ``ValidationError`` (like ``orgs.errors.Conflict``), so
the portal's forms show it where they show any refusal of a service; the API renders it as
``403 hook_denied`` with the hook's reason in ``details``."""

from django.core.exceptions import ValidationError


class HookDenied(ValidationError):
    """A pre-write hook refused the write, or could not answer and fails closed.

    ``outcome`` is ``denied`` (the hook said no), ``timeout``, ``error`` (no answer, or not
    a 2xx) or ``bad_answer`` (a 2xx whose body is not the documented verdict)."""

    def __init__(self, *, reason: str, action: str, outcome: str) -> None:
        self.denial_message = f"Refused by the organization's pre-write hook: {reason}"
        super().__init__(self.denial_message)
        self.reason = reason
        self.action = action
        self.outcome = outcome
