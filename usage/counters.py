"""Request counts per API key and per org per day (UTC), in Redis hashes: no database write
per request. ``manage.py rollup_usage`` copies them into PostgreSQL (usage.models.DailyUsage).

``tnt:usage:<day>:<org_id>:org`` and ``tnt:usage:<day>:<org_id>:key:<key_id>`` each hold
``requests`` (every request, counted when it is let in or refused) and ``3xx``, ``4xx``,
``5xx`` (counted once the answer is known); ``2xx`` is what remains. They expire after
``USAGE_REDIS_DAYS`` days, so the rollup must run more often than that (hourly is plenty).
Without Redis (the local run's memory cache) nothing is metered.
"""

import functools
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone

PREFIX = "tnt:usage"
FIELDS = ("requests", "3xx", "4xx", "5xx")


def redis_client() -> Any | None:
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        return cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    return None


def today() -> date:
    return timezone.now().date()  # UTC: USE_TZ with TIME_ZONE="UTC"


def _keys(day: date, org_id: int, key_id: int | None) -> list[str]:
    base = f"{PREFIX}:{day.isoformat()}:{org_id}"
    return [f"{base}:org"] + ([f"{base}:key:{key_id}"] if key_id is not None else [])


def status_field(status: int) -> str | None:
    return f"{status // 100}xx" if status >= 300 else None


@dataclass(frozen=True)
class Increments:
    """One request's usage increments: ``fields`` +1 in each hash of ``names`` (then each
    hash expires in ``ttl`` seconds), and the names joined to the day's ``index``."""

    names: list[str]
    fields: list[str]
    index: str
    ttl: int


def increments(
    *, org_id: int, key_id: int | None, status: int | None = None, request: bool
) -> Increments | None:
    """What one request adds to the counters (None: nothing). ``request``: count the request
    itself; ``status``: count its answer's class."""
    field = status_field(status) if status is not None else None
    fields: tuple[str, ...] = ("requests",) if request else ()
    if field is not None:
        fields += (field,)
    if not fields:
        return None
    return _increments(today(), org_id, key_id, fields, settings.USAGE_REDIS_DAYS)


@functools.lru_cache(maxsize=4096)  # (day, org, key, fields): the same for a whole day
def _increments(
    day: date, org_id: int, key_id: int | None, fields: tuple[str, ...], days: int
) -> Increments:
    """Shared between requests: read, never changed."""
    return Increments(
        names=_keys(day, org_id, key_id),
        fields=list(fields),
        index=_index(day),  # what the rollup reads, so it never scans the keyspace
        ttl=days * 86400,
    )


def _index(day: date) -> str:
    return f"{PREFIX}:{day.isoformat()}:index"


def count_answer(*, org_id: int, key_id: int | None, status: int) -> None:
    """Count an answer that is not a 2xx (one round trip; 2xx answers cost none)."""
    added = increments(org_id=org_id, key_id=key_id, status=status, request=False)
    client = redis_client() if added is not None else None
    if client is None or added is None:
        return
    pipe = client.pipeline(transaction=False)
    for name in added.names:
        for field in added.fields:
            pipe.hincrby(name, field, 1)
        pipe.expire(name, added.ttl)
    pipe.sadd(added.index, *added.names)
    pipe.expire(added.index, added.ttl)
    pipe.execute()


@dataclass(frozen=True)
class Counted:
    day: date
    org_id: int
    key_id: int | None
    requests: int
    s3xx: int
    s4xx: int
    s5xx: int

    @property
    def s2xx(self) -> int:
        return max(0, self.requests - self.s3xx - self.s4xx - self.s5xx)


def read_day(day: date) -> list[Counted]:
    """Every counter of ``day`` as it stands in Redis now (for the rollup)."""
    client = redis_client()
    if client is None:
        return []
    names = sorted(_text(n) for n in client.smembers(_index(day)))
    return _read(client, day, names)


def read_one(*, org_id: int, key_id: int | None, days: list[date]) -> dict[date, Counted]:
    """One org's (or one key's) live counters on ``days``, in one round trip."""
    client = redis_client()
    if client is None or not days:
        return {}
    names = [_keys(day, org_id, key_id)[-1] for day in days]
    return {c.day: c for c in _read(client, None, names)}


def read_many(*, org_id: int, key_ids: list[int | None], days: list[date]) -> list[Counted]:
    """Live counters of several keys (``None``: the org) on ``days``, in one round trip."""
    client = redis_client()
    if client is None:
        return []
    names = [_keys(day, org_id, key_id)[-1] for key_id in key_ids for day in days]
    return _read(client, None, names)


def _read(client: Any, day: date | None, names: list[str]) -> list[Counted]:
    if not names:
        return []
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(name)
    found = []
    for name, values in zip(names, pipe.execute(), strict=True):
        if not values:
            continue
        # tnt:usage:<day>:<org>:org  |  tnt:usage:<day>:<org>:key:<key>
        parts = name.split(":")
        got = {_text(k): int(v) for k, v in values.items()}
        found.append(
            Counted(
                day=date.fromisoformat(parts[2]),
                org_id=int(parts[3]),
                key_id=int(parts[5]) if parts[4] == "key" else None,
                requests=got.get("requests", 0),
                s3xx=got.get("3xx", 0),
                s4xx=got.get("4xx", 0),
                s5xx=got.get("5xx", 0),
            )
        )
    return found


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
