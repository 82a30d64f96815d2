"""The one path by which anything is audited."""

from typing import Any

from django.db import connection

from audit.actors import Actor
from audit.models import AuditEvent
from audit.redaction import redact
from audit.registry import AuditAction, is_registered


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
    """Insert one audit row inside the caller's transaction.

    Refuses to run outside ``transaction.atomic()``: the write and its audit row land
    together or not at all. Metadata passes through ``redact`` so a secret never lands.
    """
    if not connection.in_atomic_block:
        raise AuditOutsideTransaction(f"{action} must be recorded inside the write's transaction")
    if not is_registered(action):
        raise ValueError(f"unregistered audit action {action!r}")
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_label = target_label or str(target)
    return AuditEvent.objects.create(
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
