"""The current request's id, for log lines. Set and cleared by RequestIdMiddleware."""

import re
import secrets
from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")

# A caller's id is echoed only if it is short and plain; anything else is replaced, so a
# header can never inject text into our logs or responses.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_request_id() -> str:
    return f"req_{secrets.token_hex(12)}"


def accept_or_generate(incoming: str | None) -> str:
    if incoming and _ACCEPTABLE.match(incoming):
        return incoming
    return new_request_id()
