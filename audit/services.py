"""The one path by which anything is audited and emitted as a lifecycle event."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Model, QuerySet

from audit.actors import Actor
from audit.models import AuditEvent, OutboxEvent
from audit.redaction import redact
from audit.registry import AuditAction, is_registered

_M = TypeVar("_M", bound=Model)


class AuditOutsideTransaction(RuntimeError):
    pass


def record(
    *,
    org_id: int | None,
    action: AuditAction,
    actor: Actor,
    target: Any = None,
    target_type: str = "",
    target_label: str = "",
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Insert one audit row and its outbox event inside the caller's transaction.

    Refuses to run outside ``transaction.atomic()``: the write, its audit row and its
    lifecycle event land together or not at all. Metadata passes through ``redact`` so a
    secret never lands, neither in the audit row nor in the event built from it.
    """
    if not connection.in_atomic_block:
        raise AuditOutsideTransaction(f"{action} must be recorded inside the write's transaction")
    if not is_registered(action):
        raise ValueError(f"unregistered audit action {action!r}")
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_label = target_label or str(target)
    event = AuditEvent.objects.create(
        org_id=org_id,
        action=action.name,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label[:255],
        target_type=target_type,
        target_id=str(target.pk) if target is not None else "",
        target_label=target_label[:255],
        ip=actor.context.ip,
        user_agent=actor.context.user_agent,
        request_id=actor.context.request_id,
        metadata=redact(metadata or {}),
    )
    outbox = OutboxEvent(org_id=org_id, type=event.action, audit_event=event)
    outbox.payload = event_payload(event, event_id=outbox.public_id)
    outbox.save(force_insert=True)
    return event


def event_payload(event: AuditEvent, *, event_id: str) -> dict[str, Any]:
    """The lifecycle event as receivers see it (Standard Webhooks' ``type``/``timestamp``/
    ``data`` envelope), built only from the stored, already redacted, audit row."""
    return {
        "id": event_id,
        "type": event.action,
        "timestamp": event.occurred_at.isoformat(),
        "data": {
            "org_id": event.org_id,
            "audit_event_id": event.pk,
            "actor": {"type": event.actor_type, "id": event.actor_id, "label": event.actor_label},
            "target": {
                "type": event.target_type,
                "id": event.target_id,
                "label": event.target_label,
            },
            "context": {
                "ip": event.ip,
                "user_agent": event.user_agent,
                "request_id": event.request_id,
            },
            "metadata": event.metadata,
        },
    }


def before_after(
    before: dict[str, Any], after: dict[str, Any], changed: Iterable[str]
) -> dict[str, Any]:
    """The metadata of an update: the changed fields' old and new values, nothing else."""
    fields = sorted(changed)
    return {"before": {f: before[f] for f in fields}, "after": {f: after[f] for f in fields}}


def audited_update(
    *,
    rows: QuerySet[_M],
    pk: Any,
    changes: Callable[[_M], Mapping[str, Any]],
    describe: Callable[[_M], dict[str, Any]],
    action: AuditAction,
    actor: Actor,
    org_id: Callable[[_M], int | None],
) -> _M:
    """The one audited update: lock the row, read what the trail shows of it, apply the
    changes, save the fields that changed and record ``action`` with their before/after.

    ``rows`` is where the row may be found (``Model.objects.for_org(org)``: another org's
    pk is ``DoesNotExist``); ``changes(row)`` gives the new field values, computed from the
    locked row (it may raise ``ValidationError``); ``describe(row)`` is what the audit trail
    may keep of it (never a secret). A field that changed while its description did not
    (a hidden part) is still named. Atomic; a no-op writes nothing and records nothing.
    """
    with transaction.atomic():
        row = rows.select_for_update().get(pk=pk)
        before = describe(row)
        new = dict(changes(row))
        old = {field: getattr(row, field) for field in new}
        for field, value in new.items():
            setattr(row, field, value)
        changed = sorted(field for field in new if getattr(row, field) != old[field])
        if not changed:
            return row
        stamped = [f.name for f in row._meta.concrete_fields if getattr(f, "auto_now", False)]
        row.save(update_fields=[*changed, *stamped])  # auto_now fields (updated_at) move too
        after = describe(row)
        shown = {k for k in after if after[k] != before.get(k)} | (set(changed) & set(after))
        record(
            org_id=org_id(row),
            action=action,
            actor=actor,
            target=row,
            metadata=before_after(before, after, shown),
        )
    return row
