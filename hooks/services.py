"""Every write to pre-write hooks, and the consultation other apps' services make before
their own writes. Each write is atomic, validated and audited.

Like the other apps' services these check no role: the caller (the view, via the role
table: ``security:write``, owners only) decides who may manage hooks. The org is explicit
and scopes every lookup, so another org's hook is ``PreWriteHook.DoesNotExist``.
"""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from audit.actors import Actor
from audit.registry import AuditAction
from audit.services import audited_update, record
from audit.webhooks.signing import generate_secret
from audit.webhooks.targets import display_url, url_error
from hooks import audit_actions, calls
from hooks.errors import HookDenied
from hooks.models import HOOKABLE_ACTIONS, PreWriteHook
from tenancy.rls import org_transaction

logger = logging.getLogger(__name__)

MAX_HOOKS_PER_ORG = 10
MAX_DESCRIPTION_LENGTH = 255
FailureMode = PreWriteHook.FailureMode


class HookConsultedInsideATransaction(RuntimeError):
    """A programming error: the HTTP call would hold the write's transaction open."""


# --- Before a write ---------------------------------------------------------------------


def hooks_consult(*, org: Any, actor: Actor, action: str, proposed: dict[str, Any]) -> None:
    """Ask each enabled hook of ``org`` registered for ``action``, oldest first, whether the
    proposed write may go ahead. Returns when every one allows it (or fails open); else
    records ``hook.denied`` in a transaction of its own and raises ``HookDenied``, and the
    caller writes nothing.

    PRE_WRITE_HOOK_TIMEOUT_SECONDS is the budget of the whole consultation, not of each
    hook: each is given what the ones before it left (10 slow hooks must not hold a sync
    worker for 10 timeouts, past gunicorn's own). A hook reached with nothing left is not
    called and counts as timed out: its own failure mode decides, audited as a timeout.

    Call it BEFORE opening the write's transaction: it waits on the network, and a
    transaction held across that wait would pin a pooled connection (and its locks) for as
    long as a stranger's server cares to take. Called inside one, it refuses.
    ``proposed`` is what the hook is shown: never a secret. Trusted system code (operator
    commands, ``Actor.system()``) is not subject to an org's hooks.
    """
    if action not in HOOKABLE_ACTIONS:
        raise ValueError(f"{action!r} is not a hookable action")
    if actor.type == "system":
        return
    # Read in the org's own transaction: outside one, row-level security shows no hook at
    # all, and every write would silently go unasked (the list is evaluated inside).
    with org_transaction(org.pk):
        enabled = PreWriteHook.objects.for_org(org).filter(enabled=True).order_by("created_at")
        hooks = [hook for hook in enabled if action in hook.actions]
    if not hooks:
        return
    _refuse_inside_a_transaction()
    body = calls.message(action=action, org=org, actor=actor, proposed=proposed)
    deadline = time.monotonic() + float(settings.PRE_WRITE_HOOK_TIMEOUT_SECONDS)
    for hook in hooks:
        remaining = deadline - time.monotonic()
        if remaining > 0:
            verdict = calls.ask(url=hook.url, secret=hook.secret, body=body, timeout=remaining)
        else:
            verdict = calls.not_asked()
        if _proceeds(hook, verdict):
            if not verdict.answered:
                logger.warning(
                    "pre-write hook %s (%s) failed open for %s: %s",
                    hook.pk,
                    hook,
                    action,
                    verdict.outcome,
                )
            continue
        reason = verdict.reason if verdict.answered else _closed_reason(verdict)
        _record_call(
            hook,
            actor=actor,
            audit_action=audit_actions.HOOK_DENIED,
            action=action,
            verdict=verdict,
            reason=reason,
            failure_mode=hook.failure_mode,
            object=proposed,
        )
        raise HookDenied(reason=reason, action=action, outcome=verdict.outcome)


def _proceeds(hook: PreWriteHook, verdict: calls.Verdict) -> bool:
    """Whether a write goes ahead after this hook's verdict, its failure mode applied."""
    if verdict.answered:
        return verdict.outcome == calls.ALLOWED
    return hook.failure_mode == FailureMode.OPEN


def _record_call(
    hook: PreWriteHook,
    *,
    actor: Actor,
    audit_action: AuditAction,
    action: str,
    verdict: calls.Verdict,
    reason: str,
    **extra: Any,
) -> None:
    """Audit one call to a hook, after it, in a transaction of its own, the hook's org's
    (row-level security; no write of the caller's is open: the call was made outside any)."""
    with org_transaction(hook.org_id):
        record(
            org_id=hook.org_id,
            action=audit_action,
            actor=actor,
            target=hook,
            metadata={
                "action": action,
                "outcome": verdict.outcome,
                "reason": reason,
                "status_code": verdict.status_code,
                "duration_ms": verdict.duration_ms,
                **extra,
            },
        )


def _closed_reason(verdict: calls.Verdict) -> str:
    return f"{verdict.reason}, and the hook is set to refuse writes when it cannot answer"


def _refuse_inside_a_transaction() -> None:
    # The test runner's own wrapping transaction (Django marks its atomics) is not the
    # caller's; any other open atomic block is.
    blocks = getattr(connection, "atomic_blocks", [])
    if any(not getattr(block, "_from_testcase", False) for block in blocks):
        raise HookConsultedInsideATransaction(
            "pre-write hooks are consulted before the write's transaction opens"
        )


# --- Managing hooks ---------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedHook:
    hook: PreWriteHook
    # The signing secret, handed out here once, for the create response only.
    secret: str


@dataclass(frozen=True)
class TestResult:
    outcome: str
    reason: str
    status_code: int | None
    duration_ms: int
    # What the org's writes would do with this answer (the failure mode applied).
    writes_would_proceed: bool


def hook_create(
    *,
    org: Any,
    actor: Actor,
    url: str,
    actions: Iterable[str],
    description: str = "",
    failure_mode: str = FailureMode.CLOSED,
    enabled: bool = True,
) -> CreatedHook:
    """Register a hook with a new signing secret. Atomic, audited (``hook.created``,
    without the secret); an org has at most ``MAX_HOOKS_PER_ORG``. Returns the secret with
    the hook, once."""
    fields = _clean(url=url, actions=actions, description=description, failure_mode=failure_mode)
    secret = generate_secret()
    with transaction.atomic():
        # Counted under a lock on the org's hooks, so two creates cannot both pass.
        existing = list(
            PreWriteHook.objects.for_org(org).select_for_update().values_list("pk", flat=True)
        )
        if len(existing) >= MAX_HOOKS_PER_ORG:
            raise ValidationError(f"An organization has at most {MAX_HOOKS_PER_ORG} hooks")
        hook = PreWriteHook.objects.create(org=org, secret=secret, enabled=enabled, **fields)
        record(
            org_id=hook.org_id,
            action=audit_actions.HOOK_CREATED,
            actor=actor,
            target=hook,
            metadata=_describe(hook),
        )
    return CreatedHook(hook=hook, secret=secret)


def hook_update(
    *,
    org: Any,
    actor: Actor,
    hook: PreWriteHook,
    url: str | None = None,
    actions: Iterable[str] | None = None,
    description: str | None = None,
    failure_mode: str | None = None,
    enabled: bool | None = None,
) -> PreWriteHook:
    """Change a hook's URL, actions, description, failure mode or enabled state. Atomic,
    audited (``hook.updated``) with before/after of what changed; a no-op writes nothing."""

    def changes(locked: PreWriteHook) -> dict[str, Any]:
        fields = _clean(
            url=locked.url if url is None else url,
            actions=locked.actions if actions is None else actions,
            description=locked.description if description is None else description,
            failure_mode=locked.failure_mode if failure_mode is None else failure_mode,
        )
        return fields if enabled is None else {**fields, "enabled": enabled}

    return audited_update(
        rows=PreWriteHook.objects.for_org(org),
        pk=hook.pk,
        changes=changes,
        describe=_describe,
        action=audit_actions.HOOK_UPDATED,
        actor=actor,
        org_id=lambda locked: locked.org_id,
    )


def hook_delete(*, org: Any, actor: Actor, hook: PreWriteHook) -> None:
    """Remove a hook: writes are no longer put to it. Atomic, audited (``hook.deleted``)."""
    with transaction.atomic():
        hook = PreWriteHook.objects.for_org(org).select_for_update().get(pk=hook.pk)
        record(
            org_id=hook.org_id,
            action=audit_actions.HOOK_DELETED,
            actor=actor,
            target=hook,
            metadata=_describe(hook),
        )
        hook.delete()


def hook_send_test(*, org: Any, actor: Actor, hook: PreWriteHook) -> TestResult:
    """Call the hook now with a sample proposal (``"test": true`` in the body) and report
    its answer; nothing else is written. The call happens outside any transaction, then
    is audited (``hook.tested``, with the outcome) in one of its own (a view calls it in
    ``outside_the_request_transaction()``)."""
    with org_transaction(org.pk):
        hook = PreWriteHook.objects.for_org(org).get(pk=hook.pk)
    action = hook.actions[0] if hook.actions else next(iter(HOOKABLE_ACTIONS))
    body = calls.message(
        action=action, org=org, actor=actor, proposed=_SAMPLES.get(action, {}), test=True
    )
    verdict = calls.ask(url=hook.url, secret=hook.secret, body=body)
    _record_call(
        hook,
        actor=actor,
        audit_action=audit_actions.HOOK_TESTED,
        action=action,
        verdict=verdict,
        reason=verdict.reason,
    )
    return TestResult(
        outcome=verdict.outcome,
        reason=verdict.reason,
        status_code=verdict.status_code,
        duration_ms=verdict.duration_ms,
        writes_would_proceed=_proceeds(hook, verdict),
    )


# What a test call shows the hook: the shape of a real proposal, with made-up values.
_SAMPLES: dict[str, dict[str, Any]] = {
    "member.invite": {"email": "new.person@example.com", "role": "member"},
    "member.role_change": {
        "membership_id": 0,
        "user_id": 0,
        "email": "someone@example.com",
        "role_before": "member",
        "role_after": "admin",
    },
    "api_key.create": {
        "name": "CI pipeline",
        "env": "live",
        "scopes": None,
        "allowed_origins": [],
        "allowed_ips": [],
        "expires_at": None,
        "rate_limit": "",
        "creator": {"membership_id": 0, "user_id": 0, "role": "developer"},
    },
    "api_key.roll": {
        "key_id": 0,
        "name": "CI pipeline",
        "prefix": "tnt_live_0000",
        "env": "live",
        "scopes": None,
        "grace_seconds": 3600,
        "creator": {"membership_id": 0, "user_id": 0},
    },
}


def _describe(hook: PreWriteHook) -> dict[str, Any]:
    # What the audit trail keeps of a hook: never the secret, nor the URL's path or query.
    return {
        "url": display_url(hook.url),
        "description": hook.description,
        "actions": list(hook.actions),
        "failure_mode": hook.failure_mode,
        "enabled": hook.enabled,
    }


def _clean(
    *, url: str, actions: Iterable[str], description: str, failure_mode: str
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    url = url.strip()
    if problem := url_error(url):
        errors["url"] = [problem]
    if isinstance(actions, str):
        actions = [actions]
    chosen = sorted(set(actions))
    unknown = [a for a in chosen if a not in HOOKABLE_ACTIONS]
    if unknown:
        errors["actions"] = [f"Not a hookable action: {a}" for a in unknown]
    elif not chosen:
        errors["actions"] = [f"Choose at least one of {', '.join(HOOKABLE_ACTIONS)}"]
    description = description.strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        errors["description"] = [f"Must be at most {MAX_DESCRIPTION_LENGTH} characters"]
    if failure_mode not in FailureMode.values:
        errors["failure_mode"] = [f"Must be one of {', '.join(FailureMode.values)}"]
    if errors:
        raise ValidationError(errors)
    return {
        "url": url,
        "actions": chosen,
        "description": description,
        "failure_mode": failure_mode,
    }
