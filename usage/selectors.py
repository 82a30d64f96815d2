"""Reads of usage: the rolled-up rows, topped up with the live Redis counters."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings

from orgs.models import Organization
from usage import counters
from usage.models import DailyUsage


@dataclass(frozen=True)
class Day:
    day: date
    requests: int = 0
    status_2xx: int = 0
    status_3xx: int = 0
    status_4xx: int = 0
    status_5xx: int = 0


FIELDS = ("requests", "status_2xx", "status_3xx", "status_4xx", "status_5xx")


def usage_by_day(*, org: Organization, key_id: int | None, start: date, end: date) -> list[Day]:
    """Every day from ``start`` to ``end`` (inclusive), zeros where nothing was counted.

    Days still in Redis (the last USAGE_REDIS_DAYS) are read live; each field is the larger
    of the rollup's and the live counter's, so a rollup that has not run yet, or a Redis that
    lost its data since, both still give the best count known."""
    rows = {
        row.day: row
        for row in DailyUsage.objects.for_org(org).filter(
            api_key_id=key_id, day__gte=start, day__lte=end
        )
    }
    live_from = max(start, counters.today() - timedelta(days=settings.USAGE_REDIS_DAYS - 1))
    live_days = [live_from + timedelta(days=n) for n in range((end - live_from).days + 1)]
    live = counters.read_one(org_id=org.pk, key_id=key_id, days=live_days)
    out = []
    for n in range((end - start).days + 1):
        day = start + timedelta(days=n)
        row, now = rows.get(day), live.get(day)
        stored = [getattr(row, f) for f in FIELDS] if row else [0] * 5
        counted = [now.requests, now.s2xx, now.s3xx, now.s4xx, now.s5xx] if now else [0] * 5
        out.append(Day(day, *(max(a, b) for a, b in zip(stored, counted, strict=True))))
    return out
