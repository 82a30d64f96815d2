"""Request counts per API key and per org per day (UTC), in Redis hashes: no database write
per request. ``manage.py rollup_usage`` copies them into PostgreSQL (usage.models.DailyUsage).

``tnt:usage:<day>:<org_id>:org`` and ``tnt:usage:<day>:<org_id>:key:<key_id>`` each hold
``requests`` (every request, counted when it is let in or refused) and ``3xx``, ``4xx``,
``5xx`` (counted once the answer is known); ``2xx`` is what remains. They expire after
``USAGE_REDIS_DAYS`` days, so the rollup must run more often than that (hourly is plenty).
Without Redis (the local run's memory cache) nothing is metered.

Counts are buffered in the process (``{hash: {field: n}}``, the day fixed when counted) and
added to Redis in bulk: by the next rate-limit round trip (``orgs.ratelimits`` carries the
whole buffer in its script), or on their own (``flush``, one pipeline) once the oldest
pending count is ``FLUSH_SECONDS`` old (at the next request, or by a daemon thread in an
idle process), at process exit (``atexit``, gunicorn's ``worker_exit``), and before every
read of the counters (``read_*``: a client reading its usage on the worker that served it
sees its own requests; the rollup reads several days back, so a late flush is still rolled
up). A forked child starts with an empty buffer: its parent's counts are the parent's to
add. A flush that fails (Redis unreachable) keeps its counts for the next one.
"""

import atexit
import functools
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone

from orgs import ratelimits

logger = logging.getLogger(__name__)

PREFIX = "tnt:usage"
FIELDS = ("requests", "3xx", "4xx", "5xx")
FLUSH_SECONDS = 1.0  # the oldest pending count waits at most about this long
_TICK = 0.25  # how often the daemon thread looks (whatever FLUSH_SECONDS is made)


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
    return _increments_on(today(), org_id=org_id, key_id=key_id, status=status, request=request)


def _increments_on(
    day: date, *, org_id: int, key_id: int | None, status: int | None, request: bool
) -> Increments | None:
    field = status_field(status) if status is not None else None
    fields: tuple[str, ...] = ("requests",) if request else ()
    if field is not None:
        fields += (field,)
    if not fields:
        return None
    return _increments(day, org_id, key_id, fields, settings.USAGE_REDIS_DAYS)


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


def count(*, org_id: int, key_id: int | None, status: int | None = None, request: bool) -> None:
    """Buffer one request's counts (``request``: the request itself; ``status``: its
    answer's class, 2xx costing nothing); Redis gets them with the next round trip."""
    if not _metered():
        return
    day = int(time.time()) // 86400  # the UTC day today() names (the same clock)
    if day != _today[0]:  # a new day: new hash names
        _today[:] = [day, {}]
    ident = (org_id, key_id, status, request)
    added = _today[1].get(ident, _MISSING)
    if added is _MISSING:
        on = _EPOCH + timedelta(days=day)
        added = _increments_on(on, org_id=org_id, key_id=key_id, status=status, request=request)
        if len(_today[1]) >= 4096:
            _today[1].clear()
        _today[1][ident] = added
    if added is not None:
        _buffer.add(added)


_MISSING: Any = object()
_EPOCH = date(1970, 1, 1)
# [the epoch day, {(org, key, status, request): its Increments (None: nothing to count)}]:
# the hash names are the same all day, so a request looks them up once.
_today: list[Any] = [-1, {}]
_backend: list[bool] = []  # the default cache is Redis (read once per CACHES change)


def _metered() -> bool:
    if not _backend:
        _backend.append(isinstance(caches["default"], RedisCache))
    return _backend[0]


@receiver(setting_changed)
def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        _backend.clear()
    if setting in ("CACHES", "USAGE_REDIS_DAYS"):
        _today[:] = [-1, {}]


def count_answer(*, org_id: int, key_id: int | None, status: int) -> None:
    """Count an answer that is not a 2xx (buffered: no round trip of its own)."""
    if status_field(status) is None:  # a 2xx: nothing to count (most answers)
        return
    count(org_id=org_id, key_id=key_id, status=status, request=False)


@dataclass
class Pending:
    """Counts taken out of the buffer for one round trip: ``hashes[name][field]`` to add,
    each hash then joining its day's index ``index_of[name]``; all expire in ``ttl``."""

    hashes: dict[str, dict[str, int]]
    index_of: dict[str, str]
    ttl: int


class _Buffer:
    """This process's counts not yet in Redis; ``since``: when the oldest was counted
    (``time.monotonic()``; 0 when empty)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hashes: dict[str, dict[str, int]] = {}
        self.index_of: dict[str, str] = {}
        self.since = 0.0
        self.flusher_pid = 0

    def add(self, added: Increments) -> None:
        with self.lock:
            for name in added.names:
                fields = self.hashes.get(name)
                if fields is None:
                    fields = self.hashes[name] = {}
                    self.index_of[name] = added.index
                for field in added.fields:
                    fields[field] = fields.get(field, 0) + 1
            if not self.since:
                self.since = time.monotonic()
                if self.flusher_pid != os.getpid():
                    self.flusher_pid = os.getpid()
                    threading.Thread(
                        target=_flush_when_idle, name="usage-flush", daemon=True
                    ).start()

    def take(self) -> Pending | None:
        with self.lock:
            if not self.hashes:
                return None
            taken = Pending(self.hashes, self.index_of, settings.USAGE_REDIS_DAYS * 86400)
            self.hashes, self.index_of, self.since = {}, {}, 0.0
            return taken

    def give_back(self, pending: Pending) -> None:
        """A round trip that failed: its counts wait for the next one (none lost)."""
        with self.lock:
            for name, fields in pending.hashes.items():
                mine = self.hashes.setdefault(name, {})
                for field, n in fields.items():
                    mine[field] = mine.get(field, 0) + n
                self.index_of[name] = pending.index_of[name]
            if not self.since:
                self.since = time.monotonic()

    def due(self) -> bool:
        """The oldest pending count has waited ``FLUSH_SECONDS`` (read without the lock: a
        stale answer only moves a flush by one request)."""
        since = self.since
        return bool(since) and time.monotonic() - since >= FLUSH_SECONDS

    def forget(self) -> None:
        """In a forked child: the parent's counts are the parent's (and its lock may have
        been held by a thread the child does not have)."""
        self.__init__()  # type: ignore[misc]


_buffer = _Buffer()
os.register_at_fork(after_in_child=_buffer.forget)
ratelimits.carry(_buffer)  # every rate-limit round trip takes the pending counts along


def take() -> Pending | None:
    """Everything pending, for a round trip that carries it (``give_back`` if it fails)."""
    return _buffer.take()


def give_back(pending: Pending) -> None:
    _buffer.give_back(pending)


def due() -> bool:
    return _buffer.due()


def flush() -> None:
    """Add every pending count to Redis now: one pipelined round trip (none when nothing is
    pending). On a Redis error the counts stay pending and the error is raised."""
    pending = _buffer.take()
    if pending is None:
        return
    client = redis_client()
    if client is None:  # no Redis (the cache changed under a test): nothing is metered
        return
    pipe = client.pipeline(transaction=False)
    for name, fields in pending.hashes.items():
        for field, n in fields.items():
            pipe.hincrby(name, field, n)
        pipe.expire(name, pending.ttl)
    for index, names in _by_index(pending).items():
        pipe.sadd(index, *names)
        pipe.expire(index, pending.ttl)
    try:
        pipe.execute()
    except BaseException:
        _buffer.give_back(pending)
        raise


def _by_index(pending: Pending) -> dict[str, list[str]]:
    by_index: dict[str, list[str]] = {}
    for name, index in pending.index_of.items():
        by_index.setdefault(index, []).append(name)
    return by_index


def _flush_when_idle() -> None:
    """The daemon thread: an idle process's counts reach Redis within ~FLUSH_SECONDS."""
    while True:
        time.sleep(_TICK)
        if due():
            _flush_logged()


def _flush_logged() -> None:
    try:
        flush()
    except Exception as error:  # kept pending: the next flush or round trip retries
        logger.warning("usage counters: flush failed (%s); the counts stay pending", error)


atexit.register(_flush_logged)


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
    flush()  # this process's pending counts first
    client = redis_client()
    if client is None:
        return []
    names = sorted(_text(n) for n in client.smembers(_index(day)))
    return _read(client, day, names)


def read_one(*, org_id: int, key_id: int | None, days: list[date]) -> dict[date, Counted]:
    """One org's (or one key's) live counters on ``days``, in one round trip (after this
    process's pending counts, when there are any)."""
    flush()  # this process's pending counts first
    client = redis_client()
    if client is None or not days:
        return {}
    names = [_keys(day, org_id, key_id)[-1] for day in days]
    return {c.day: c for c in _read(client, None, names)}


def read_many(*, org_id: int, key_ids: list[int | None], days: list[date]) -> list[Counted]:
    """Live counters of several keys (``None``: the org) on ``days``, in one round trip
    (after this process's pending counts, when there are any)."""
    flush()  # this process's pending counts first
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
