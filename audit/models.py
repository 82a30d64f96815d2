from django.db import models


class AuditEvent(models.Model):
    """One audited write. Append-only: rows are inserted by ``audit.services.record`` only.

    ``org_id`` is a plain column, not a foreign key: the audit trail is the ground floor,
    outlives what it describes, and stays distributable by org. It is null only for
    platform-level events (a user signing up, before any org).
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

    class Meta:
        indexes = [
            models.Index(fields=["org_id", "-occurred_at", "-id"], name="audit_org_time"),
            models.Index(fields=["org_id", "action", "-occurred_at"], name="audit_org_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or self.actor_type}"
