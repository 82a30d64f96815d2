"""Rate limits on django-ratelimit's counters (Redis when REDIS_URL is set).

Every API request spends one count in each of its buckets: its most specific principal (an
API key, a person in an org, or a client address when anonymous) and, for an org's
credential, the org's ceiling. A request must fit all of them. Buckets use django-ratelimit's
fixed windows and cache keys (``group``, ``rate``, value, staggered window), so its
``get_usage``/``is_ratelimited`` read the same counts; on Redis all buckets of a request,
and its usage counters, are spent in ONE round trip: a Lua script (``SPEND_SCRIPT``, loaded
once per Redis server, then called by its digest) runs django-ratelimit's add-then-incr for
each bucket and the usage increments, atomically. (django-ratelimit's own ``get_usage``
costs up to three round trips per bucket on Django's Redis cache: SET NX, EXISTS, INCR; a
pipeline of the same commands costs one, but redis-py's Python to build and parse ten
commands cost more CPU than the round trip.)

Rates are ``"<count>/<period>"`` as django-ratelimit reads them: ``600/m``, ``300/15m``,
``20/h``, ``5/d``. Defaults come from settings; an org overrides them in
``Organization.settings["rate_limits"]`` and an API key may narrow its own with
``APIKey.rate_limit`` (never above the org's per-key rate).
"""

import functools
import hashlib
import logging
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
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


@dataclass(frozen=True)
class Spent:
    """One bucket after this request was counted in it."""

    policy: str
    count: int
    limit: int
    window: int  # seconds
    reset_at: int  # epoch second at which the next window (a fresh count) starts

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    def seconds_left(self, now: int | None = None) -> int:
        return max(1, self.reset_at - int(time.time() if now is None else now))


def tightest(spent: Iterable[Spent]) -> Spent | None:
    """The bucket a client should heed: an exceeded one that resets last, else the one
    with the fewest requests left (then the later reset)."""
    return max(spent, key=lambda s: (s.exceeded, -s.remaining, s.reset_at), default=None)


class Increments(Protocol):
    """Hash fields to add 1 to in the same round trip (``usage.counters.Increments``): each
    of ``fields`` in each hash of ``names``, which then expire in ``ttl`` seconds and join
    the set ``index``."""

    @property
    def names(self) -> list[str]: ...
    @property
    def fields(self) -> list[str]: ...
    @property
    def index(self) -> str: ...
    @property
    def ttl(self) -> int: ...


def spend(
    buckets: Sequence[Bucket],
    *,
    request: Any = None,
    usage: Increments | None = None,
) -> list[Spent]:
    """Count one request in each bucket and return their state. On Redis: one round trip
    for all of them and the ``usage`` increments (``SPEND_SCRIPT``); without Redis (the
    local run's memory cache) nothing is metered."""
    planned = []
    for bucket in buckets:
        parsed = parse_rate(bucket.rate)
        if parsed is None:
            raise ValueError(f"not a rate: {bucket.rate!r}")
        limit, period = parsed
        window = _get_window(bucket.value, period)  # the window's last second
        planned.append((bucket, limit, period, window))
    cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
    if isinstance(cache, RedisCache):
        keys = [
            _redis_key(cache, b.group, window, limit, period, b.value)
            for b, limit, period, window in planned
        ]
        ttls = [period + EXPIRATION_FUDGE for _, _, period, _ in planned]
        args: list[Any] = [len(planned), *ttls]
        if usage is not None:
            keys += [*usage.names, usage.index]
            args += [usage.ttl, *usage.fields]
        counts = [int(c) for c in _run_spend_script(cache._cache, keys, args)]  # type: ignore[attr-defined]
    else:  # the local run's per-process memory: django-ratelimit's own path
        counts = [
            (
                get_usage(
                    request, group=b.group, key=lambda *_, v=b.value: v, rate=b.rate,
                    method=ALL, increment=True,
                ) or {"count": 0}
            )["count"]
            for b, *_ in planned
        ]  # fmt: skip
    return [
        Spent(policy=b.policy, count=count, limit=limit, window=period, reset_at=window + 1)
        for (b, limit, period, window), count in zip(planned, counts, strict=True)
    ]


@functools.lru_cache(maxsize=4096)  # a bucket's key changes with its window, once a period
def _redis_key(cache: Any, group: str, window: int, limit: int, period: int, value: str) -> str:
    """django-ratelimit's cache key (hex: nothing for Django to validate), as Django's
    cache names it in Redis; the parsed rate spares django-ratelimit's regex."""
    return cache.make_key(_make_cache_key(group, window, (limit, period), value, ALL))


# KEYS: the buckets' counters, then (when metered) the usage hashes and the day's index.
# ARGV: the number of buckets, each bucket's TTL, then the usage TTL and fields (+1 each).
SPEND_SCRIPT = """
local n = tonumber(ARGV[1])
local counts = {}
for i = 1, n do
  redis.call('SET', KEYS[i], 0, 'EX', ARGV[i + 1], 'NX')
  counts[i] = redis.call('INCR', KEYS[i])
end
if #KEYS > n then
  local ttl = ARGV[n + 2]
  local index = KEYS[#KEYS]
  for i = n + 1, #KEYS - 1 do
    for j = n + 3, #ARGV do
      redis.call('HINCRBY', KEYS[i], ARGV[j], 1)
    end
    redis.call('EXPIRE', KEYS[i], ttl)
    redis.call('SADD', index, KEYS[i])
  end
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
    rates = {}
    for policy, setting in POLICY_SETTINGS.items():
        default = getattr(settings, setting)
        override = overrides.get(policy) if isinstance(overrides, dict) else None
        if override is not None and parse_rate(override) is None:
            logger.warning("org %s: rate_limits.%s=%r is not a rate", org.pk, policy, override)
            override = None
        rates[policy] = override or default
    return rates


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


def http_request(request: Any) -> Any:
    """The Django HttpRequest under a DRF Request (or the request itself)."""
    return getattr(request, "_request", request)


def note(request: Any, spent: Iterable[Spent]) -> None:
    target = http_request(request)
    target.rate_limits = [*getattr(target, "rate_limits", []), *spent]


def noted(request: Any) -> list[Spent] | None:
    return getattr(http_request(request), "rate_limits", None)


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
    spent = spend([Bucket(group, group, value, rate)], request=http_request(request))
    note(request, spent)
    refuse_if_exceeded(spent)


def enforce_all(request: Any, buckets: Sequence[Bucket]) -> None:
    """Several extra buckets in one round trip; past any of them, 429."""
    spent = spend(buckets, request=http_request(request))
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
