"""Usage metering: counted in Redis per request, rolled up into PostgreSQL, read per day."""

import io
import runpy
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apikeys.services import api_key_create
from audit.actors import Actor
from usage import counters
from usage.counters import today
from usage.models import DailyUsage

pytestmark = pytest.mark.django_db


def with_key(raw):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def key_of(member):
    return api_key_create(org=member.membership.org, actor=Actor.system(),
                          creator=member.membership, name="k")  # fmt: skip


def usage(client, **query):
    response = client.get("/api/usage", query)
    assert response.status_code == 200, response.content
    return response.json()


def test_requests_are_counted_per_key_and_org_by_status_class(org, as_member):
    owner = as_member(org, role="owner")
    key, raw = key_of(owner)
    client = with_key(raw)
    for _ in range(3):
        assert client.get("/api/users/me").status_code == 200
    assert client.get("/api/members/999999").status_code == 404
    assert client.get("/api/api-keys/999999").status_code == 404
    owner.get("/api/users/me")  # the person's own request: the org's count only
    mine = usage(owner, key_id=key.pk)
    assert mine["days"][-1] == {
        "day": today().isoformat(), "requests": 5, "status_2xx": 3, "status_3xx": 0,
        "status_4xx": 2, "status_5xx": 0,
    }  # fmt: skip
    assert len(mine["days"]) == 30
    assert mine["totals"]["requests"] == 5
    org_wide = usage(owner)
    assert org_wide["key_id"] is None
    # the key's 5, the person's 1, and both usage reads (each counted when let in)
    assert org_wide["totals"]["requests"] == 8


def test_refused_requests_are_counted_as_4xx(org, as_member, settings):
    owner = as_member(org, role="owner")
    key, raw = key_of(owner)
    settings.RATE_LIMIT_KEY = "1/d"
    client = with_key(raw)
    assert [client.get("/api/users/me").status_code for _ in range(2)] == [200, 429]
    day = usage(owner, key_id=key.pk)["days"][-1]
    assert (day["requests"], day["status_2xx"], day["status_4xx"]) == (2, 1, 1)


def test_a_request_writes_nothing_to_the_database(org, as_member):
    _, raw = key_of(as_member(org, role="owner"))
    client = with_key(raw)
    client.get("/api/users/me")  # the once-a-minute last-used write happens here
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/users/me").status_code == 200
    statements = [(q["sql"] or "").lstrip().upper() for q in captured]
    writes = [sql for sql in statements if sql.startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == []


def test_the_rollup_is_idempotent_and_outlives_redis(org, as_member):
    owner = as_member(org, role="owner")
    key, raw = key_of(owner)
    for _ in range(4):
        with_key(raw).get("/api/users/me")
    call_command("rollup_usage", stdout=io.StringIO())
    call_command("rollup_usage", stdout=io.StringIO())
    rows = DailyUsage.objects.for_org(org)
    assert rows.count() == 2  # the org's row and the key's
    assert rows.get(api_key=key).requests == 4
    cache.clear()  # Redis lost its counters (a flush, a restart without persistence)
    assert usage(owner, key_id=key.pk)["days"][-1]["requests"] == 4


def test_the_rollup_skips_counters_of_keys_that_no_longer_exist(org, as_member):
    owner = as_member(org, role="owner")
    key, raw = key_of(owner)
    with_key(raw).get("/api/users/me")
    from apikeys.models import APIKey

    APIKey.objects.for_org(org).filter(pk=key.pk).delete()
    call_command("rollup_usage", "--days", "1", stdout=io.StringIO())
    assert list(DailyUsage.objects.for_org(org).values_list("api_key_id", flat=True)) == [None]


def test_developers_read_their_own_keys_only(org, as_member):
    developer = as_member(org, role="developer")
    own, _ = key_of(developer)
    theirs, _ = key_of(as_member(org, role="admin"))
    assert developer.get("/api/usage", {"key_id": own.pk}).status_code == 200
    assert developer.get("/api/usage", {"key_id": theirs.pk}).status_code == 403
    assert developer.get("/api/usage").status_code == 403  # the org's totals


def test_admins_read_any_key_and_members_nothing(org, as_member):
    key, _ = key_of(as_member(org, role="developer"))
    assert as_member(org, role="admin").get("/api/usage", {"key_id": key.pk}).status_code == 200
    member = as_member(org, role="member")
    assert member.get("/api/usage").status_code == 403
    assert member.get("/api/usage", {"key_id": key.pk}).status_code == 403


def test_another_orgs_key_is_404(org, other_org, as_member):
    theirs, _ = key_of(as_member(other_org, role="owner"))
    response = as_member(org, role="owner").get("/api/usage", {"key_id": theirs.pk})
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        {"from": "yesterday"},
        {"key_id": "seven"},
        {"key_id": "-1"},
    ],
)
def test_a_bad_query_is_422(org, as_member, query):
    response = as_member(org, role="owner").get("/api/usage", query)
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


def test_a_range_lists_every_day_oldest_first(org, as_member):
    end = today()
    start = end - timedelta(days=6)
    body = usage(as_member(org, role="owner"), **{"from": start.isoformat(), "to": end.isoformat()})
    assert [d["day"] for d in body["days"]] == [
        (start + timedelta(days=n)).isoformat() for n in range(7)
    ]
    assert (body["from"], body["to"]) == (start.isoformat(), end.isoformat())


def usage_redis() -> Any:
    client = counters.redis_client()
    assert client is not None
    return client


def redis_hash(org, key=None):
    base = f"{counters.PREFIX}:{today().isoformat()}:{org.pk}"
    name = f"{base}:key:{key.pk}" if key is not None else f"{base}:org"
    return {k.decode(): int(v) for k, v in usage_redis().hgetall(name).items()}


def test_after_a_flush_redis_holds_exactly_the_requests_and_answer_classes(org, as_member):
    key, raw = key_of(as_member(org, role="owner"))
    client = with_key(raw)
    for path, status in [("/api/users/me", 200)] * 4 + [("/api/members/999999", 404)] * 3:
        assert client.get(path).status_code == status
    counters.flush()
    assert redis_hash(org, key) == {"requests": 7, "4xx": 3}
    assert redis_hash(org) == {"requests": 7, "4xx": 3}
    index = f"{counters.PREFIX}:{today().isoformat()}:index"
    assert usage_redis().ttl(index) > 86400
    counters.flush()  # nothing pending: nothing added twice
    assert redis_hash(org, key) == {"requests": 7, "4xx": 3}


def test_an_idle_process_adds_its_counts_within_the_flush_interval(org, as_member):
    key, raw = key_of(as_member(org, role="owner"))
    client = with_key(raw)
    client.get("/api/users/me")  # reserved tokens; its count rode that round trip
    client.get("/api/users/me")  # spent from them: its count waits in the process
    counted = time.monotonic()
    assert redis_hash(org, key).get("requests", 0) == 1
    while redis_hash(org, key).get("requests", 0) < 2:  # the daemon thread's flush
        assert time.monotonic() - counted < counters.FLUSH_SECONDS + 1, redis_hash(org, key)
        time.sleep(0.05)
    assert redis_hash(org, key) == {"requests": 2}


def test_a_usage_read_includes_the_requests_this_process_still_holds(org, as_member, monkeypatch):
    monkeypatch.setattr(counters, "FLUSH_SECONDS", 3600)  # no flush but the read's own
    owner = as_member(org, role="owner")
    key, raw = key_of(owner)
    client = with_key(raw)
    for _ in range(5):
        client.get("/api/users/me")
    assert redis_hash(org, key)["requests"] == 1  # the rest still pending in this process
    assert usage(owner, key_id=key.pk)["days"][-1]["requests"] == 5


COUNT_THEN_EXIT = """
import django
django.setup()
from usage import counters
for _ in range(3):
    counters.count(org_id={org}, key_id=None, status=404, request=True)
print("counted")
"""


def test_a_process_that_exits_adds_its_pending_counts(org, subprocess_env):
    result = subprocess.run(  # exits well within the flush interval: atexit adds them
        [sys.executable, "-c", COUNT_THEN_EXIT.format(org=org.pk)],
        env={**subprocess_env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.stdout.strip() == "counted", result.stderr[-2000:]
    assert redis_hash(org) == {"requests": 3, "4xx": 3}


def test_a_gunicorn_worker_adds_its_pending_counts_as_it_exits(org, monkeypatch, tmp_path):
    # (the settings file names a metrics directory when none is set: not this process's)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "config/gunicorn.conf.py"))
    counters.count(org_id=org.pk, key_id=None, status=None, request=True)
    assert redis_hash(org) == {}
    conf["worker_exit"](server=None, worker=None)
    assert redis_hash(org) == {"requests": 1}


def test_counts_of_a_new_utc_day_go_to_that_days_hashes(org, monkeypatch):
    """The hash names are remembered for the day; the next UTC day's requests get its own."""
    monkeypatch.setattr(counters, "FLUSH_SECONDS", 3600)
    counters.flush()
    midnight = (int(time.time()) // 86400 + 1) * 86400
    for moment in (midnight - 1, midnight, midnight + 5):
        monkeypatch.setattr(counters.time, "time", lambda moment=moment: float(moment))
        counters.count(org_id=org.pk, key_id=None, status=None, request=True)
    pending = counters.take()
    assert pending is not None
    day = datetime.fromtimestamp(midnight, UTC).date()
    before, after = (
        f"{counters.PREFIX}:{d.isoformat()}:{org.pk}:org" for d in (day - timedelta(days=1), day)
    )
    assert {name: fields["requests"] for name, fields in pending.hashes.items()} == {
        before: 1,
        after: 2,
    }
