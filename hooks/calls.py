"""One call to a pre-write hook, and its verdict. No database here.

The request is a Standard Webhooks message (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``, signed with the
hook's ``whsec_`` secret) whose JSON body is::

    {"type": "hook.pre_write", "timestamp": "<ISO 8601>",
     "data": {"action": "api_key.create", "test": false,
              "org": {"id": 1, "slug": "acme"},
              "actor": {"type": "user", "id": "7", "label": "dev@acme.test"},
              "context": {"ip": "203.0.113.9", "request_id": "req_..."},
              "object": {...the proposed change, never a secret...}}}

The hook answers ``2xx`` with ``{"allow": true}`` or ``{"allow": false, "reason": "..."}``.
Anything else (no answer within the timeout, a refused address, another status, a body
that is not that JSON) is no verdict, and the hook's own failure mode decides.
"""

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from audit.webhooks.signing import signed_headers
from audit.webhooks.transport import DeliveryError, TimedOut, exchange

MAX_ANSWER_BYTES = 16 * 1024
MAX_REASON_LENGTH = 300
NO_REASON = "no reason given"

ALLOWED = "allowed"
DENIED = "denied"
TIMEOUT = "timeout"
ERROR = "error"
BAD_ANSWER = "bad_answer"


@dataclass(frozen=True)
class Verdict:
    outcome: str  # ALLOWED or DENIED (the hook answered), or TIMEOUT, ERROR, BAD_ANSWER
    reason: str  # the hook's reason on a denial; what went wrong otherwise
    status_code: int | None
    duration_ms: int

    @property
    def answered(self) -> bool:
        return self.outcome in (ALLOWED, DENIED)


def message(
    *, action: str, org: Any, actor: Any, proposed: dict[str, Any], test: bool = False
) -> dict[str, Any]:
    """The body sent to a hook about one proposed write."""
    return {
        "type": "hook.pre_write",
        "timestamp": timezone.now().isoformat(),
        "data": {
            "action": action,
            "test": test,
            "org": {"id": org.pk, "slug": org.slug},
            "actor": {"type": actor.type, "id": actor.id, "label": actor.label},
            "context": {"ip": actor.context.ip, "request_id": actor.context.request_id},
            "object": proposed,
        },
    }


def ask(*, url: str, secret: str, body: dict[str, Any], timeout: float | None = None) -> Verdict:
    """POST ``body`` to the hook, signed; wait at most ``timeout`` seconds (by default
    PRE_WRITE_HOOK_TIMEOUT_SECONDS; a consultation passes what is left of its budget)."""
    if timeout is None:
        timeout = float(settings.PRE_WRITE_HOOK_TIMEOUT_SECONDS)
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    headers = signed_headers(
        secret=secret, msg_id=f"msg_{secrets.token_hex(12)}", timestamp=int(time.time()), body=raw
    )
    started = time.monotonic()

    def verdict(outcome: str, reason: str, status_code: int | None = None) -> Verdict:
        elapsed = int((time.monotonic() - started) * 1000)
        return Verdict(outcome=outcome, reason=reason, status_code=status_code, duration_ms=elapsed)

    try:
        answer = exchange(
            url,
            body=raw,
            headers=headers,
            timeout=timeout,
            allow_private=bool(settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS),
            read_limit=MAX_ANSWER_BYTES,
        )
    except TimedOut:
        return verdict(TIMEOUT, "the hook did not answer in time")
    except DeliveryError as exc:
        # The transport's message names the failure only; the secret is never in it.
        return verdict(ERROR, f"the hook could not be reached ({exc})")
    if not 200 <= answer.status < 300:
        return verdict(ERROR, f"the hook answered HTTP {answer.status}", answer.status)
    try:
        parsed = json.loads(answer.body)
    except ValueError:
        parsed = None
    allow = parsed.get("allow") if isinstance(parsed, dict) else None
    if not isinstance(allow, bool):
        reason = 'the hook\'s answer is not {"allow": true|false, "reason": "..."}'
        return verdict(BAD_ANSWER, reason, answer.status)
    if allow:
        return verdict(ALLOWED, "", answer.status)
    return verdict(DENIED, clean_reason(parsed.get("reason")), answer.status)


def not_asked() -> Verdict:
    """The verdict of a hook the consultation had no time left for: a timeout like any
    other, so the hook's own failure mode decides and it is audited as one."""
    reason = "the hook was not asked: the other hooks used up the time for this write"
    return Verdict(outcome=TIMEOUT, reason=reason, status_code=None, duration_ms=0)


def clean_reason(reason: object) -> str:
    """The hook's words, as shown to the person refused: text only, one line, bounded."""
    if not isinstance(reason, str):
        return NO_REASON
    text = " ".join("".join(c if c.isprintable() else " " for c in reason).split())
    if len(text) > MAX_REASON_LENGTH:
        text = text[: MAX_REASON_LENGTH - 1] + "…"
    return text or NO_REASON
