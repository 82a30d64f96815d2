"""The one write of usage metering: copying Redis counters into PostgreSQL.

Bookkeeping, not a person's write, so not audited (like an API key's last-used time).
"""

from datetime import timedelta

from django.db import transaction

from apikeys.models import APIKey
from orgs.models import Organization
from tenancy.rls import cross_org
from usage import counters
from usage.models import DailyUsage


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def usage_rollup(*, days: int) -> int:
    """Copy the counters of the last ``days`` UTC days (today included) into DailyUsage.

    Idempotent: each row is set to the counters' current values, never added to, so a
    rollup that runs twice, or is interrupted and rerun, writes the same rows. Counters of
    orgs or keys that no longer exist are skipped. Returns how many rows were written."""
    written = 0
    today = counters.today()
    for back in range(days):
        found = counters.read_day(today - timedelta(days=back))
        if not found:
            continue
        org_ids = set(
            Organization.objects.filter(pk__in={c.org_id for c in found}).values_list(
                "pk", flat=True
            )
        )
        key_ids = {c.key_id for c in found if c.key_id is not None}
        known_keys = set(
            APIKey.dangerously_unscoped.filter(pk__in=key_ids).values_list("pk", flat=True)
        )  # spans orgs on purpose: system bookkeeping over every org's counters
        with transaction.atomic():
            for c in found:
                if c.org_id not in org_ids or (c.key_id is not None and c.key_id not in known_keys):
                    continue
                manager = DailyUsage.objects.for_org(c.org_id)
                manager.update_or_create(
                    org_id=c.org_id,
                    day=c.day,
                    api_key_id=c.key_id,
                    defaults={
                        "requests": c.requests,
                        "status_2xx": c.s2xx,
                        "status_3xx": c.s3xx,
                        "status_4xx": c.s4xx,
                        "status_5xx": c.s5xx,
                    },
                )
                written += 1
    return written
