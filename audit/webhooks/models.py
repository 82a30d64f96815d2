from django.db import models

from audit.webhooks.targets import display_url
from orgs.models import TenantModel

MAX_ERROR_LENGTH = 500


class WebhookEndpoint(TenantModel):
    """Where an org wants its lifecycle events POSTed.

    ``secret`` (``whsec_`` + base64 of 32 random bytes, Standard Webhooks) is stored in
    plain because every delivery is signed with it. It is returned once, by the create
    service; it never goes to logs, audit metadata, ``__str__`` or forms (not editable).
    """

    url = models.URLField(max_length=2048)
    description = models.CharField(max_length=255, blank=True)
    # Audit action names to deliver; empty means every event.
    event_types = models.JSONField(default=list, blank=True)
    secret = models.CharField(max_length=128, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["org", "-created_at"], name="webhook_endpoint_org_time")]

    def __str__(self) -> str:
        return display_url(self.url)

    def accepts(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookDelivery(TenantModel):
    """One outbox event to one endpoint, with its retry state.

    ``attempts`` counts attempts started (it is raised when a worker claims the delivery,
    so a worker that dies mid-request still uses one up). ``locked_until``/``locked_by`` is
    the claiming worker's lease: see ``audit.webhooks.delivery``.
    """

    class Status(models.TextChoices):
        PENDING = "pending"  # never attempted
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # last attempt failed; another is due at next_attempt_at
        DEAD = "dead"  # gave up after the last attempt

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey("audit.OutboxEvent", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=128, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=MAX_ERROR_LENGTH, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = [
            # Fan-out may run twice for an event (at-least-once); it never doubles a delivery.
            models.UniqueConstraint(
                fields=["org", "endpoint", "event"], name="webhook_delivery_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["org", "endpoint", "-created_at"], name="webhook_delivery_org_endpoint"
            ),
            # The workers' queue across all orgs: the one index here not led by org, on
            # purpose (a per-org index cannot serve "what is due anywhere").
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status__in=["pending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status}, {self.attempts} attempts)"
