from django.db import models

from apikeys.models import APIKey
from orgs.models import TenantModel


class DailyUsage(TenantModel):
    """An org's (``api_key`` null) or one key's request counts on one UTC day, copied from
    the Redis counters by ``manage.py rollup_usage`` (usage/counters.py). Rewritten with the
    counters' values each time, so a rollup can run any number of times."""

    day = models.DateField()
    api_key = models.ForeignKey(
        APIKey, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    requests = models.PositiveBigIntegerField(default=0)
    status_2xx = models.PositiveBigIntegerField(default=0)
    status_3xx = models.PositiveBigIntegerField(default=0)
    status_4xx = models.PositiveBigIntegerField(default=0)
    status_5xx = models.PositiveBigIntegerField(default=0)
    rolled_up_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["org", "day"],
                condition=models.Q(api_key__isnull=True),
                name="usage_org_day_unique",
            ),
            models.UniqueConstraint(
                fields=["org", "day", "api_key"],
                condition=models.Q(api_key__isnull=False),
                name="usage_org_day_key_unique",
            ),
        ]
        indexes = [models.Index(fields=["org", "api_key", "day"], name="usage_org_key_day")]

    def __str__(self) -> str:
        return f"usage of {self.api_key_id or 'org'} in {self.org_id} on {self.day}"
