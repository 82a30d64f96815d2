"""Retention: the one privileged path that deletes audit events.

The append-only trigger (migration 0003) refuses every DELETE unless the transaction set
``tenantry.audit_purge`` to ``on``; ``audit_purge`` is the only code that sets it, always
with ``set_config(..., is_local => true)``, and audits what it deleted in that same
transaction.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.audit_actions import AUDIT_PURGED
from audit.models import AuditEvent
from audit.services import record
from tenancy.rls import cross_org

RETENTION_SETTING = "audit_retention_days"


@dataclass(frozen=True)
class Purge:
    org_id: int | None
    retention_days: int
    cutoff: datetime
    count: int


def retention_days(org_settings: Any) -> int:
    """The org's ``settings["audit_retention_days"]`` if it is a positive whole number of
    days, else the deployment's ``AUDIT_RETENTION_DAYS``."""
    value = org_settings.get(RETENTION_SETTING) if isinstance(org_settings, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return int(settings.AUDIT_RETENTION_DAYS)


def audit_purge(
    *, actor: Actor, now: datetime | None = None, dry_run: bool = False, batch_size: int = 1000
) -> list[Purge]:
    """Delete each org's audit events older than its retention, with their outbox events
    and webhook deliveries.

    One transaction per org: the deletion and its ``audit.purged`` event (with the count)
    commit together. Events without an org, or of an org that no longer exists, keep the
    deployment default. Returns what was (or, with ``dry_run``, would be) deleted.
    """
    now = now or timezone.now()
    default = int(settings.AUDIT_RETENTION_DAYS)
    organization = apps.get_model("orgs", "Organization")
    retention = {
        pk: retention_days(org_settings)
        for pk, org_settings in organization._default_manager.values_list("pk", "settings")
    }
    shortest = min([default, *retention.values()])
    with cross_org():  # which orgs have expired events: tenancy.rls's cross-org path
        candidates = list(
            AuditEvent.dangerously_unscoped.filter(occurred_at__lt=now - timedelta(days=shortest))
            .order_by()
            .values_list("org_id", flat=True)
            .distinct()
        )
    purges = []
    for org_id in sorted(candidates, key=lambda pk: (pk is None, pk or 0)):
        days = retention.get(org_id, default) if org_id is not None else default
        purge = _purge_org(
            org_id=org_id,
            days=days,
            cutoff=now - timedelta(days=days),
            actor=actor,
            dry_run=dry_run,
            batch_size=batch_size,
        )
        if purge.count:
            purges.append(purge)
    return purges


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def _purge_org(
    *,
    org_id: int | None,
    days: int,
    cutoff: datetime,
    actor: Actor,
    dry_run: bool,
    batch_size: int,
) -> Purge:
    # org_id=None is IS NULL: the platform events.
    expired = AuditEvent.dangerously_unscoped.filter(
        org_id=org_id, occurred_at__lt=cutoff
    ).order_by()
    if dry_run:
        return Purge(org_id=org_id, retention_days=days, cutoff=cutoff, count=expired.count())
    count = 0
    with transaction.atomic():
        _allow_audit_delete(True)
        while pks := list(expired.values_list("pk", flat=True)[:batch_size]):
            # The collector also deletes each event's outbox row and its deliveries.
            _, per_model = AuditEvent.dangerously_unscoped.filter(pk__in=pks).delete()
            count += per_model.get(AuditEvent._meta.label, 0)
        # Switched off again at once: SET LOCAL would otherwise outlive this block when it
        # is a savepoint inside a caller's transaction.
        _allow_audit_delete(False)
        if count:
            record(
                org_id=org_id,
                action=AUDIT_PURGED,
                actor=actor,
                metadata={
                    "count": count,
                    "retention_days": days,
                    "occurred_before": cutoff.isoformat(),
                },
            )
    return Purge(org_id=org_id, retention_days=days, cutoff=cutoff, count=count)


def _allow_audit_delete(on: bool) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('tenantry.audit_purge', %s, true)", ["on" if on else "off"]
        )
