"""Rate limits on top of django-ratelimit's counters (Redis-backed when REDIS_URL is set)."""

from collections.abc import Callable
from typing import Any

from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from rest_framework.exceptions import Throttled

from audit.actors import client_ip

Usage = dict[str, Any]  # django-ratelimit's count, limit, should_limit, time_left

# Requests whose peer address is unknown (a Unix socket without TRUSTED_PROXY_COUNT) share
# one bucket rather than none.
UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104 - a bucket name, not a bind address


def ratelimit_ip(request: Any) -> str:
    """django-ratelimit's ``key="ip"`` (settings.RATELIMIT_IP_META_KEY): always an address."""
    return client_ip(request) or UNKNOWN_ADDRESS


def hit(request: Any, *, group: str, key: str | Callable[..., str], rate: str) -> Usage | None:
    """Count this request against ``rate`` for ``key`` and return the usage."""
    return get_usage(request, group=group, key=key, rate=rate, method=ALL, increment=True)


def refuse_if_limited(usage: Usage | None) -> None:
    if usage is not None and usage["should_limit"]:
        raise Throttled(wait=usage["time_left"])


def enforce(request: Any, *, group: str, key: str | Callable[..., str], rate: str) -> None:
    """Count this request against ``rate`` for ``key``; past the limit, raise 429."""
    refuse_if_limited(hit(request, group=group, key=key, rate=rate))
