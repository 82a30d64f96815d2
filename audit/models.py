import uuid

from django.db import models

from tenancy.managers import TenantManager


class AuditEvent(models.Model):
    """One audited write. Append-only: rows are inserted by ``audit.services.record`` only.

    ``org_id`` is a plain column, not a foreign key: the audit trail is the ground floor,
    outlives what it describes, and stays distributable by org. It is null only for
    platform-level events (a user signing up, before any org).

    On PostgreSQL a trigger refuses UPDATE and DELETE (migration 0003); the retention purge
    (``manage.py purge_audit``) is the one path allowed to delete.
    """

    org_id = models.BigIntegerField(null=True)
    occurred_at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=64)
    actor_type = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=255, blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    objects = TenantManager()  # the org's rows: for_org(org)
    # Platform events (no org), the retention purge and the fan-out span orgs.
    dangerously_unscoped = models.Manager()  # noqa: DJ012 - ruff reads this manager as a field

    class Meta:
        indexes = [
            models.Index(fields=["org_id", "-occurred_at", "-id"], name="audit_org_time"),
            models.Index(fields=["org_id", "action", "-occurred_at"], name="audit_org_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or self.actor_type}"


class OutboxEvent(models.Model):
    """The lifecycle event of one audited write, written by ``record`` in the same transaction.

    A transactional outbox: the event exists if and only if the write committed, so webhooks
    (and later SSE) never announce a write that rolled back, nor miss one that landed. The
    payload is built from the stored audit row, whose metadata already passed redaction.

    Unlike the audit row it is mutable: ``dispatched_at`` is set once the event has been
    turned into webhook deliveries. It is deleted with its audit row by the retention purge.
    """

    # A random public id: it is sent to receivers as ``webhook-id``, and a sequence would
    # tell every tenant how many events the whole platform emits.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org_id = models.BigIntegerField(null=True)
    type = models.CharField(max_length=64)
    payload = models.JSONField()
    audit_event = models.OneToOneField(
        AuditEvent, on_delete=models.CASCADE, related_name="outbox_event"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()
    dangerously_unscoped = models.Manager()  # noqa: DJ012 - ruff reads this manager as a field

    class Meta:
        indexes = [
            models.Index(fields=["org_id", "-created_at"], name="outbox_org_time"),
            # The fan-out's queue: only events not yet dispatched, oldest first. A system
            # index across orgs, so deliberately not led by org_id.
            models.Index(
                fields=["created_at"],
                name="outbox_undispatched",
                condition=models.Q(dispatched_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} ({self.public_id})"

    @property
    def public_id(self) -> str:
        """The id receivers see (``webhook-id`` and the payload's ``id``)."""
        return f"evt_{self.id.hex}"
