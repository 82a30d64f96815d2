"""Rate limits live in Redis, so every worker process and host shares one count."""

import subprocess
import sys
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SPEND_IN_ANOTHER_PROCESS = """
import django
django.setup()
from django.test import RequestFactory
from orgs.ratelimits import enforce
request = RequestFactory().post("/api/auth/login", REMOTE_ADDR="198.51.100.7")
for _ in range(3):
    enforce(request, group="login-email", key=lambda *_: "victim@example.test", rate="3/d")
print("spent")
"""


def test_the_suite_runs_on_real_redis():
    assert settings.CACHES["default"]["BACKEND"] == "config.cache.RedisCache"
    cache.set("probe", "value")
    assert cache.get("probe") == "value"


def test_a_limit_spent_in_another_process_applies_here(org, subprocess_env, settings):
    cache.clear()
    settings.LOGIN_RATE = "3/d"  # a day-long window: no boundary falls inside the test
    MembershipFactory.create(org=org, user=UserFactory.create(email="victim@example.test"))
    result = subprocess.run(  # another worker process, same Redis
        [sys.executable, "-c", SPEND_IN_ANOTHER_PROCESS],
        env={**subprocess_env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.stdout.strip() == "spent", result.stderr[-2000:]
    response = APIClient().post(
        "/api/auth/login",
        {"email": "victim@example.test", "password": "whatever", "org_slug": org.slug},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (429, "rate_limited")


def test_one_redis_client_is_reused_per_pool_and_still_answers():
    # Django builds a new redis.Redis per command; config.cache keeps one (see its docstring).
    backend: Any = cache._cache  # type: ignore[attr-defined]
    client = backend.get_client(write=True)
    assert backend.get_client(write=True) is client
    assert client.connection_pool is backend._get_connection_pool(True)
    cache.set("reused", 1)
    cache.incr("reused")
    assert cache.get("reused") == 2


def test_cache_reads_on_the_kept_connection_survive_a_dropped_connection():
    """``config.cache``: get runs on a connection the thread keeps; one the server dropped
    is replaced, and the read still answers (redis-py's way, for that one command)."""
    from config.cache import ReusingRedisCacheClient

    assert isinstance(cache._cache, ReusingRedisCacheClient)  # type: ignore[attr-defined]
    cache.set("kept-connection-probe", {"a": 1}, 60)
    assert cache.get("kept-connection-probe") == {"a": 1}
    assert cache.get("kept-connection-absent", "default") == "default"
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    client.client_kill_filter(_type="normal", skipme=False)  # every client, this one's too
    assert cache.get("kept-connection-probe") == {"a": 1}
    assert cache.get("kept-connection-probe") == {"a": 1}
