"""Rate limits on django-ratelimit's counters (Redis when REDIS_URL is set).

Every API request takes one token from each of its buckets: its most specific principal (an
API key, a person in an org, or a client address when anonymous) and, for an org's
credential, the org's ceiling. A request must fit all of them. Buckets use django-ratelimit's
fixed windows and cache keys (``group``, ``rate``, value, staggered window), so its
``get_usage``/``is_ratelimited`` read the same counts.

Reservations. The counts live in Redis; a process reserves a batch of a bucket's tokens in
one atomic step (``SPEND_SCRIPT``: ``SET key 0 EX ttl NX``, ``INCRBY key k``; granted
``clamp(limit - (count - k), 0, k)``) and spends them one per request without a round trip,
reserving again when they run out. Grants are atomic, so no window ever admits more than its
limit across all processes and hosts. A batch is at most ``RATE_RESERVATION_SECONDS`` of
the bucket's rate, 1/16 of what the last look left, and ``RESERVE_CAP``; at least one. So
small limits (a key at 10/m, 5/d, every abuse limit) and a bucket's last 1/16 go one token
per round trip, exactly as before; only fast buckets (the org's 3000/m, a key's 600/m) batch.
Once a reservation finds the count at the limit, the bucket is spent out for the rest of its
window in this process (counts only grow within a window): a request it refuses costs no
round trip and spends no other bucket's token (a refusal after a round trip keeps the other
buckets' tokens for the next request). What a process holds is lost at its window's end (a
new window is a new plan) and with the process; so a window may let in up to one batch per
process fewer than its limit when a process stops getting requests while it holds some.
Headers: Remaining is what the last look left plus what this process holds, exact for
buckets reserved one token at a time, and high by what other processes reserved since for a
batched one; Reset and Retry-After come from the window's end, exact.

One round trip carries every bucket short of tokens (and tops up the request's others that
run low) and every usage count pending in the process (``usage.counters``): a Lua script,
loaded once per Redis server, then called by its digest. ``exact=True`` (every ``enforce*``
path: sign-in, second factor, invitations, org creation, the admin's sign-in) and
``RATE_RESERVATION_SECONDS=0`` count each request in Redis as it comes, refused or not:
one round trip per request. A forked child holds nothing of its parent's reservations.

Rates are ``"<count>/<period>"`` as django-ratelimit reads them: ``600/m``, ``300/15m``,
``20/h``, ``5/d``. Defaults come from settings; an org overrides them in
``Organization.settings["rate_limits"]`` and an API key may narrow its own with
``APIKey.rate_limit`` (never above the org's per-key rate).
"""

import functools
import hashlib
import logging
import os
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django_ratelimit import ALL
from django_ratelimit.core import (
    EXPIRATION_FUDGE,
    _get_ip,
    _get_window,
    _make_cache_key,
    get_usage,
    rate_re,
)
from redis.exceptions import NoScriptError
from rest_framework.exceptions import Throttled

from audit.actors import client_ip
from orgs.context import OrgContext
from orgs.models import Organization

logger = logging.getLogger(__name__)

# Requests whose peer address is unknown (a Unix socket without TRUSTED_PROXY_COUNT) share
# one bucket rather than none.
UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104 - a bucket name, not a bind address

# The policies an org may override in Organization.settings["rate_limits"], with the setting
# holding each default.
POLICY_SETTINGS = {
    "org": "RATE_LIMIT_ORG",
    "key": "RATE_LIMIT_KEY",
    "user": "RATE_LIMIT_USER",
    "public": "PUBLIC_API_RATE",
}
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def ratelimit_ip(request: Any) -> str:
    """django-ratelimit's ``key="ip"`` (settings.RATELIMIT_IP_META_KEY): always an address."""
    return client_ip(request) or UNKNOWN_ADDRESS


def parse_rate(rate: Any) -> tuple[int, int] | None:
    """``"300/15m"`` -> ``(300, 900)``; None for anything django-ratelimit would not read."""
    if not isinstance(rate, str):
        return None
    return _parse_rate(rate)


@functools.lru_cache(maxsize=1024)  # a deployment has a handful of rates; orgs add a few
def _parse_rate(rate: str) -> tuple[int, int] | None:
    match = rate_re.fullmatch(rate.strip())
    if match is None:
        return None
    count, multiplier, unit = match.groups()
    seconds = _PERIODS[(unit or "s").lower()] * (int(multiplier) if multiplier else 1)
    return (int(count), seconds) if seconds > 0 else None


def rate_per_second(rate: str) -> float:
    parsed = parse_rate(rate)
    assert parsed is not None, rate
    return parsed[0] / parsed[1]


@dataclass(frozen=True)
class Bucket:
    policy: str  # the name clients see in RateLimit-Policy: "key", "user", "ip", "org", ...
    group: str  # django-ratelimit's group
    value: str  # django-ratelimit's key value
    rate: str


class Spent(NamedTuple):
    """One bucket after this request took (or was refused) its token (a named tuple: made
    twice a request, without a frozen dataclass's setattr per field)."""

    policy: str
    # the shared count at this process's last look (``_Planned.seen``; shadows tuple.count)
    count: int  # type: ignore[assignment]
    limit: int
    window: int  # seconds
    reset_at: int  # epoch second at which the next window (a fresh count) starts
    held: int = 0  # tokens this process still holds in the bucket, this request's taken
    refused: bool | None = None  # None: refused when the count is past the limit

    @property
    def remaining(self) -> int:
        """What the last look left, plus what this process holds: exact with one round trip
        per request; with reservations, high by what other processes reserved since."""
        return max(0, self.limit - min(self.count, self.limit) + self.held)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit if self.refused is None else self.refused

    def seconds_left(self, now: int | None = None) -> int:
        return max(1, self.reset_at - int(time.time() if now is None else now))


def tightest(spent: Iterable[Spent]) -> Spent | None:
    """The bucket a client should heed: an exceeded one that resets last, else the one
    with the fewest requests left (then the later reset)."""
    best, best_key = None, None
    for s in spent:  # max(), the first of the greatest, without a key function's calls
        _, count, limit, _, reset_at, held, refused = s
        # (s.exceeded, -s.remaining, s.reset_at), the two properties written out: this runs
        # on every API answer, and their calls were most of it (held equal in a test)
        exceeded = count > limit if refused is None else refused
        key = (exceeded, -max(0, limit - min(count, limit) + held), reset_at)
        if best_key is None or key > best_key:
            best, best_key = s, key
    return best


class PendingCounts(Protocol):
    """Hash fields to add in a round trip (``usage.counters.Pending``): ``hashes[name][field]``
    to add, each hash then joining the set ``index_of[name]``; all expire in ``ttl``."""

    @property
    def hashes(self) -> dict[str, dict[str, int]]: ...
    @property
    def index_of(self) -> dict[str, str]: ...
    @property
    def ttl(self) -> int: ...


class Carried(Protocol):
    """Counts waiting in the process for a round trip to Redis (``usage.counters``, which
    stands above this module and registers itself with ``carry``)."""

    def take(self) -> PendingCounts | None: ...
    def give_back(self, pending: Any) -> None: ...
    def due(self) -> bool: ...


_carried: list[Carried] = []


def carry(buffer: Carried) -> None:
    """Every round trip takes ``buffer``'s pending counts along; when they are ``due`` and
    no bucket needs Redis, a request makes the round trip for them."""
    if buffer not in _carried:
        _carried.append(buffer)


RESERVE_CAP = 100  # tokens one reservation takes at most, whatever the rate


def spend(buckets: Sequence[Bucket], *, request: Any = None, exact: bool = False) -> list[Spent]:
    """Take one token from each bucket (one per occurrence) and return their state.

    On Redis, with ``RATE_RESERVATION_SECONDS`` > 0 and not ``exact``: from the tokens this
    process holds, reserving a batch from Redis (one round trip for every bucket short of
    tokens, topping up the others that run low, carrying the pending usage counts) when one
    has none left; a bucket known spent out for its window refuses with no round trip and
    nothing else spent. ``exact`` (or ``RATE_RESERVATION_SECONDS=0``): one round trip per
    call counting the request in every bucket, refused or not. Without Redis (the local
    run's memory cache): django-ratelimit's own counting in the process."""
    now = int(time.time())
    planned = [_plan(bucket, now) for bucket in buckets]
    cache, on_redis = _limits_cache()
    if not on_redis:  # the local run's per-process memory
        counts = [
            (
                get_usage(
                    request, group=b.group, key=lambda *_, v=b.value: v, rate=b.rate,
                    method=ALL, increment=True,
                ) or {"count": 0}
            )["count"]
            for b in planned
        ]  # fmt: skip
        return [
            _spent(p, count, refused=count > p.limit)
            for p, count in zip(planned, counts, strict=True)
        ]
    seconds = 0 if exact else _reserve_seconds()
    if not seconds:
        counts = _round_trip(cache, [(p, 1) for p in planned])
        return [
            _spent(p, count, refused=count > p.limit)
            for p, count in zip(planned, counts, strict=True)
        ]
    return _spend_held(cache, planned, seconds)


class _ThreadCache(threading.local):
    generation = -1
    cache: Any = None
    on_redis = False


_thread_cache = _ThreadCache()
_cache_generation = [0]  # one more at every change of the cache settings


def _limits_cache() -> tuple[Any, bool]:
    """The rate limits' cache (``RATELIMIT_USE_CACHE``) as ``caches[...]`` gives it to this
    thread, and whether it is Redis: looked up once per thread and settings change, not
    through asgiref's Local on every request."""
    mine = _thread_cache
    if mine.generation != _cache_generation[0]:
        mine.cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
        mine.on_redis = isinstance(mine.cache, RedisCache)
        mine.generation = _cache_generation[0]
    return mine.cache, mine.on_redis


def _counted(planned: list["_Planned"], counts: list[int]) -> list[Spent]:
    """Counted one by one: refused past the limit."""
    return [_spent(p, c, refused=c > p.limit) for p, c in zip(planned, counts, strict=True)]


def _spent(p: "_Planned", count: int, *, refused: bool, held: int = 0) -> Spent:
    return Spent(p.policy, count, p.limit, p.period, p.window + 1, held, refused)


def _spend_held(cache: Any, planned: list["_Planned"], seconds: int) -> list[Spent]:
    need: dict[_Planned, int] = dict.fromkeys(planned, 0)
    for p in planned:
        need[p] += 1
    with _lock:
        short = [p for p, n in need.items() if p.held < n]
        if short:
            for p in short:
                if p.spent_out:  # known spent for this window: no round trip
                    return _take(planned, need, short)
        else:
            for carried in _carried:
                if carried.due():
                    break
            else:
                return _take(planned, need, short)  # every token at hand: no round trip
        reserve = []  # the buckets short of tokens, and the others running low
        for p, n in need.items():
            batch = p.batch(seconds)
            if p.held < n:
                reserve.append((p, max(batch, n - p.held)))
            elif p.held * 2 < batch and not p.spent_out:
                reserve.append((p, batch))
    counts = _round_trip(cache, reserve)  # outside the lock: threads reserve side by side
    with _lock:
        for (p, k), count in zip(reserve, counts, strict=True):
            p.held += max(0, min(p.limit - (count - k), k))  # atomic in Redis: never above
            p.seen = max(p.seen, count)
            p.spent_out = p.spent_out or count >= p.limit  # counts only grow in a window
        return _take(planned, need, [p for p, n in need.items() if p.held < n])


def _take(
    planned: list["_Planned"], need: dict["_Planned", int], short: list["_Planned"]
) -> list[Spent]:
    """Under ``_lock``: this request's tokens from every bucket, or from none when one
    (``short``: those holding too few) has too few (a refused request spends nothing else)."""
    if not short:
        for p, n in need.items():
            p.held -= n
        return [
            Spent(p.policy, p.seen, p.limit, p.period, p.window + 1, p.held, False) for p in planned
        ]
    return [_spent(p, p.seen, refused=p in short, held=p.held) for p in planned]


def _round_trip(cache: Any, reserve: Sequence[tuple["_Planned", int]]) -> list[int]:
    """One EVALSHA: ``k`` tokens reserved in each bucket (the shared count after, each)
    and every pending usage count added; a failed trip puts the usage counts back."""
    keys = [_redis_key(cache, p) for p, _ in reserve]
    args: list[Any] = [len(reserve), 0, 0]
    for p, k in reserve:
        args += [p.period + EXPIRATION_FUDGE, k]
    carrier = _carried[0] if _carried else None
    pending = carrier.take() if carrier is not None else None
    if pending is not None:
        indexes = list(dict.fromkeys(pending.index_of.values()))
        position = {index: n for n, index in enumerate(indexes, 1)}
        keys += [*pending.hashes, *indexes]
        args[1:3] = [len(pending.hashes), pending.ttl]
        for name, fields in pending.hashes.items():
            args += [position[pending.index_of[name]], len(fields)]
            for field, n in fields.items():
                args += [field, n]
    try:
        return [int(c) for c in _run_spend_script(cache._cache, keys, args)]
    except BaseException:
        if carrier is not None and pending is not None:
            carrier.give_back(pending)
        raise


class _Planned:
    """A bucket in its current window: its parsed rate, django-ratelimit's window, (once
    asked for) its key in Redis, and this process's reservation: ``held`` tokens, the
    shared count ``seen`` at the last reservation, ``spent_out`` once that count reached the
    limit (nothing more to reserve in this window). Under ``_lock``."""

    __slots__ = (
        "group", "held", "key", "key_of", "limit", "period", "policy", "rate", "seen",
        "spent_out", "value", "window",
    )  # fmt: skip

    def __init__(self, bucket: Bucket, limit: int, period: int, window: int) -> None:
        self.group, self.value, self.rate, self.policy = (
            bucket.group, bucket.value, bucket.rate, bucket.policy,
        )  # fmt: skip
        self.limit, self.period = limit, period
        self.window = window  # the window's last second (django-ratelimit's _get_window)
        self.key: str = ""
        self.key_of: Any = None  # the cache ``key`` was made by
        self.held = self.seen = 0
        self.spent_out = False

    def batch(self, seconds: int) -> int:
        """Tokens to reserve: at most ``seconds`` of the rate, 1/16 of what the last look
        left and RESERVE_CAP; at least one. Small limits (below 16 a second or so) and a
        bucket's last 1/16 go one at a time."""
        return max(
            1, min(self.limit * seconds // self.period, (self.limit - self.seen) // 16, RESERVE_CAP)
        )


# (group, value, rate, policy) -> the bucket's plan while its window lasts: the parsed rate,
# the window and the Redis key change once a period, not per request; a new window is a new
# plan, holding nothing.
_plans: dict[tuple[str, str, str, str], _Planned] = {}
_lock = threading.Lock()  # the plans' reservations (gthread and ASGI servers run threads)


def forget_local_state() -> None:
    """Drop every plan and what it holds (a forked child: its parent's tokens are the
    parent's to spend; tests, after emptying Redis)."""
    global _lock
    _plans.clear()
    _lock = threading.Lock()  # (a lock a parent's thread held at fork would never open)


os.register_at_fork(after_in_child=forget_local_state)


_reserve: list[int] = []  # RATE_RESERVATION_SECONDS, read from the settings once


def _reserve_seconds() -> int:
    if not _reserve:
        _reserve.append(max(0, int(getattr(settings, "RATE_RESERVATION_SECONDS", 0))))
    return _reserve[0]


def _plan(bucket: Bucket, now: int) -> _Planned:
    ident = (bucket.group, bucket.value, bucket.rate, bucket.policy)
    planned = _plans.get(ident)
    if planned is not None and now <= planned.window:
        return planned
    parsed = parse_rate(bucket.rate)
    if parsed is None:
        raise ValueError(f"not a rate: {bucket.rate!r}")
    limit, period = parsed
    if len(_plans) >= 10_000:
        _plans.clear()
    planned = _plans[ident] = _Planned(bucket, limit, period, _get_window(bucket.value, period))
    return planned


def _redis_key(cache: Any, planned: _Planned) -> str:
    """django-ratelimit's cache key (hex: nothing for Django to validate), as Django's
    cache names it in Redis; the parsed rate spares django-ratelimit's regex."""
    if planned.key_of is not cache:
        rate = (planned.limit, planned.period)
        made = _make_cache_key(planned.group, planned.window, rate, planned.value, ALL)
        planned.key, planned.key_of = cache.make_key(made), cache
    return planned.key


# KEYS: the buckets' counters, then the usage hashes, then the days' indexes of those hashes.
# ARGV: the number of buckets, of usage hashes, the usage TTL; each bucket's TTL and tokens to
# reserve; each usage hash's index (1-based among the indexes), its number of fields, and
# each field with what to add. Returns each bucket's count after its reservation.
SPEND_SCRIPT = """
local n, m, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local counts = {}
local a = 4
for i = 1, n do
  redis.call('SET', KEYS[i], 0, 'EX', ARGV[a], 'NX')
  counts[i] = redis.call('INCRBY', KEYS[i], ARGV[a + 1])
  a = a + 2
end
for i = n + 1, n + m do
  local index = KEYS[n + m + tonumber(ARGV[a])]
  local fields = tonumber(ARGV[a + 1])
  a = a + 2
  for _ = 1, fields do
    redis.call('HINCRBY', KEYS[i], ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  redis.call('EXPIRE', KEYS[i], ttl)
  redis.call('SADD', index, KEYS[i])
  redis.call('EXPIRE', index, ttl)
end
return counts
"""
_SPEND_SHA = hashlib.sha1(SPEND_SCRIPT.encode()).hexdigest()  # noqa: S324 - Redis names scripts so


def _run_spend_script(cache_client: Any, keys: list[str], args: list[Any]) -> list[Any]:
    """EVALSHA; a Redis that does not know the script yet (restarted, flushed) loads it.

    On this project's cache (``config.cache``) the command goes out on the connection the
    thread keeps (redis-py's per-command path cost twice the CPU of the round trip); on
    Django's own Redis cache, through ``execute_command`` itself (redis-py's ``evalsha``
    wrapper checks for deprecated arguments on every call)."""
    client = cache_client.get_client(write=True)
    run = getattr(cache_client, "command", None) or client.execute_command
    command = ("EVALSHA", _SPEND_SHA, len(keys), *keys, *args)
    try:
        return run(*command)
    except NoScriptError:
        client.script_load(SPEND_SCRIPT)
        return run(*command)


# --- Which buckets a request spends -----------------------------------------------------


def org_rates(org: Organization) -> dict[str, str]:
    """The org's rates: its ``settings["rate_limits"]`` over the deployment's defaults. An
    override that is not a valid rate is ignored (and logged), never a 500."""
    overrides = (org.settings or {}).get("rate_limits") or {}
    if not overrides:  # most orgs: the defaults (a copy: callers may change theirs)
        return dict(_default_rates())
    rates = {}
    for policy, setting in POLICY_SETTINGS.items():
        default = getattr(settings, setting)
        override = overrides.get(policy) if isinstance(overrides, dict) else None
        if override is not None and parse_rate(override) is None:
            logger.warning("org %s: rate_limits.%s=%r is not a rate", org.pk, policy, override)
            override = None
        rates[policy] = override or default
    return rates


_defaults: dict[str, str] = {}  # the deployment's rates, read from the settings once


def _default_rates() -> dict[str, str]:
    if not _defaults:
        _defaults.update({p: getattr(settings, name) for p, name in POLICY_SETTINGS.items()})
    return _defaults


@receiver(setting_changed)
def _forget_default_rates(*, setting: str, **kwargs: Any) -> None:
    if setting in POLICY_SETTINGS.values():
        _defaults.clear()
        _buckets.clear()
    if setting == "RATE_RESERVATION_SECONDS":
        _reserve.clear()
    if setting in ("CACHES", "RATELIMIT_USE_CACHE"):
        _cache_generation[0] += 1


def key_rate(own: str | None, org_key_rate: str) -> str:
    """A key's own rate when it is set and no faster than the org's per-key rate."""
    if own and parse_rate(own) and rate_per_second(own) <= rate_per_second(org_key_rate):
        return own
    return org_key_rate


def address_value(request: Any) -> str:
    """django-ratelimit's ip key: IPv6 addresses share their /64 (RATELIMIT_IPV6_MASK)."""
    return str(_get_ip(http_request(request)))


def anonymous_bucket(request: Any) -> Bucket:
    return Bucket("ip", "rl-ip", address_value(request), settings.RATE_LIMIT_ANONYMOUS)


def buckets_for(request: Any, context: Any, *, scope: str | None = None) -> list[Bucket]:
    """The principal's bucket (key, person, or address) and, for an org's credential, the
    org's ceiling. ``scope="public"`` (``/api/public/*``) gives a key its public-API rate."""
    if not isinstance(context, OrgContext):
        return [anonymous_bucket(request)]
    org = context.org
    if not (org.settings or {}).get("rate_limits"):  # most orgs: the defaults, remembered
        if context.credential == "api_key":
            ident: tuple[Any, ...] = (
                scope == "public", context.credential_id, getattr(context, "rate_limit", None),
                org.pk,
            )  # fmt: skip
        else:
            ident = (None, context.membership.user_id, None, org.pk)
        known = _buckets.get(ident)
        if known is None:
            if len(_buckets) >= 10_000:
                _buckets.clear()
            known = _buckets[ident] = tuple(_buckets_for(context, scope))
        return list(known)
    return _buckets_for(context, scope)


# (public scope, credential id or person, the key's own rate, org) -> the buckets of an org on
# the default rates: the same for every request of that principal until the settings change.
_buckets: dict[tuple[Any, ...], tuple[Bucket, ...]] = {}


def _buckets_for(context: Any, scope: str | None) -> list[Bucket]:
    org = context.org
    rates = org_rates(org)
    if context.credential == "api_key":
        if scope == "public":
            principal = Bucket("key", "rl-public-key", str(context.credential_id), rates["public"])
        else:
            rate = key_rate(getattr(context, "rate_limit", None), rates["key"])
            principal = Bucket("key", "rl-key", str(context.credential_id), rate)
    else:
        value = f"{org.pk}:{context.membership.user_id}"
        principal = Bucket("user", "rl-user", value, rates["user"])
    return [principal, Bucket("org", "rl-org", str(org.pk), rates["org"])]


# --- Spent buckets travel on the request, for the response headers -----------------------


# These read the requests' own attributes (``__dict__``): a getattr() that finds nothing
# raises and formats an AttributeError inside, three times a request here.


def http_request(request: Any) -> Any:
    """The Django HttpRequest under a DRF Request (or the request itself)."""
    return request.__dict__.get("_request", request)


def note(request: Any, spent: Iterable[Spent]) -> None:
    target = http_request(request)
    target.rate_limits = [*target.__dict__.get("rate_limits", ()), *spent]


def noted(request: Any) -> list[Spent] | None:
    found: list[Spent] | None = http_request(request).__dict__.get("rate_limits")
    return found


def refuse_if_exceeded(spent: Iterable[Spent]) -> None:
    """429 (Throttled) when any bucket is over; Retry-After is when all of them allow again."""
    over = [s for s in spent if s.exceeded]
    if over:
        raise Throttled(wait=max(s.seconds_left() for s in over))


# --- Extra limits a view adds on top (login, invitations, ...) ---------------------------


def enforce(request: Any, *, group: str, key: str | Callable[..., str], rate: str) -> None:
    """Count this request against ``rate`` for ``key`` (``"ip"`` or ``(group, request) ->
    value``); past the limit, raise 429. The bucket joins the request's headers."""
    value = address_value(request) if key == "ip" else key(group, request)  # type: ignore[operator]
    spent = spend([Bucket(group, group, value, rate)], request=http_request(request), exact=True)
    note(request, spent)
    refuse_if_exceeded(spent)


def enforce_all(request: Any, buckets: Sequence[Bucket]) -> None:
    """Several extra buckets in one round trip (exact: no reservations, whatever the
    rates); past any of them, 429."""
    spent = spend(buckets, request=http_request(request), exact=True)
    note(request, spent)
    refuse_if_exceeded(spent)


def enforce_login(request: Any, *, email: str) -> None:
    """API and portal sign-in attempts: one bucket per email as the user lookup compares it
    (``email_bucket_value``), and, once the lookup knows the account, one per account, which
    catches any spelling that normalisation still tells apart. Costs the lookup's query."""
    rate = settings.LOGIN_RATE
    buckets = [Bucket("login-email", "login-email", email_bucket_value(email), rate)]
    user_id = _account_for(email)
    if user_id is not None:
        buckets.append(Bucket("login-account", "login-account", str(user_id), rate))
    enforce_all(request, buckets)


def _account_for(email: str) -> Any:
    # The same lookup sign-in makes (ModelBackend -> get_by_natural_key: email__iexact).
    user_model = get_user_model()
    try:
        return user_model._default_manager.get_by_natural_key(email).pk
    except user_model.DoesNotExist:
        return None


def enforce_second_factor(request: Any, *, user_id: int) -> None:
    """Second-factor code attempts (sign-in, enrollment, turning it off), right or wrong:
    per person (``MFA_RATE``, the API and the portal together) and per client address
    (``LOGIN_RATE``). A wrong code also counts against its sign-in's mfa_token in the
    database (``MFA_TOKEN_ATTEMPTS``)."""
    enforce_all(
        request,
        [
            Bucket("mfa-user", "mfa-user", str(user_id), settings.MFA_RATE),
            Bucket("mfa-ip", "mfa-ip", address_value(request), settings.LOGIN_RATE),
        ],
    )


def enforce_invitation(request: Any, *, org_id: int, inviter_id: int) -> None:
    """Invitations send email to whoever is named: per org and per inviter, per hour."""
    org_rate, inviter_rate = settings.INVITATION_RATE_ORG, settings.INVITATION_RATE_INVITER
    enforce_all(
        request,
        [
            Bucket("invitations-org", "invitations-org", str(org_id), org_rate),
            Bucket("invitations-inviter", "invitations-inviter", str(inviter_id), inviter_rate),
        ],
    )


def enforce_org_creation(request: Any, *, user_id: int) -> None:
    """Organizations created per person per day (attempts count: no slug enumeration)."""
    rate = settings.ORG_CREATE_RATE
    enforce_all(request, [Bucket("orgs-created", "orgs-created", str(user_id), rate)])


def email_bucket_value(email: str) -> str:
    """One value for every spelling the user lookup would match to the same account.

    Lookups compare with SQL ``UPPER(email) = UPPER(%s)`` (``iexact``), under which
    ``adm\\u0131n@`` (dotless i) and ``ADMIN@`` both find ``admin@``. NFKC, then upper-casing
    (which folds the dotless i, the long s and the like), then case-folding gives them one
    bucket; it may merge a few spellings the lookup keeps apart, which only makes the
    limit stricter."""
    return unicodedata.normalize("NFKC", email.strip()).upper().casefold()
