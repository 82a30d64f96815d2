"""Rate limits and usage as a client meets them: a real gunicorn with two worker processes on
127.0.0.1, production settings, the session's real PostgreSQL and Redis.

The server sees only rows a test has committed, hence ``transaction=True``.
"""

import io
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command
from django_ratelimit.core import _get_window

from apikeys.services import api_key_create
from audit.actors import Actor
from tests.config.test_deploy import PRODUCTION
from tests.factories import MembershipFactory, OrgFactory
from tests.harness.asgi import database_env
from tests.harness.postgres import free_port
from usage.counters import PREFIX, redis_client, today
from usage.models import DailyUsage

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
PEPPER_ID, PEPPER = PRODUCTION["API_KEY_PEPPERS"].split(":", 1)
LIMITS = {
    "RATE_LIMIT_ANONYMOUS": "5/d",  # day-long windows: no boundary falls inside a test
    "LOGIN_RATE": "3/d",
    # As behind one load balancer: the test client plays it, appending the caller's address.
    "TRUSTED_PROXY_COUNT": "1",
    # Reservations of 10 s of a bucket's rate: a 120/m key reserves 7 tokens at a time, while
    # the small limits here stay one by one (10/m: 1; 3/5s: 1).
    "RATE_RESERVATION_SECONDS": "10",
}


class Gunicorn:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "gunicorn.log"
        env = {
            **database_env(),  # this session's test database; REDIS_URL is inherited
            **PRODUCTION,
            **LIMITS,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_ACCESS_LOG": os.devnull,
        }
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.wait_until_up()

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                pytest.fail(self.log.read_text())
            time.sleep(0.2)

    def workers(self) -> set[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        return {int(pid) for pid in out.split()}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    gunicorn = Gunicorn(tmp_path_factory.mktemp("gunicorn"))
    yield gunicorn
    gunicorn.stop()


@pytest.fixture(autouse=True)
def _production_pepper(settings):
    # Keys made here must verify in the server, which runs on production's pepper.
    settings.API_KEY_PEPPERS = {PEPPER_ID: PEPPER}
    settings.API_KEY_PEPPER_ID = PEPPER_ID


def make_key(org, **fields):
    creator = MembershipFactory.create(org=org, role="owner")
    return api_key_create(org=org, actor=Actor.system(), creator=creator, name="k", **fields)


def get(server, raw, path="/api/users/me", **headers):
    return httpx.get(f"{server.url}{path}", headers={"X-API-Key": raw, **headers}, timeout=10)


def wait_for_a_fresh_window(value: str, period: int, needed: float) -> None:
    """Sleep past the bucket's window end if fewer than ``needed`` seconds are left in it."""
    left = _get_window(value, period) + 1 - time.time()
    if left < needed:
        time.sleep(left + 0.1)


def test_a_burst_of_100_lets_at_most_10_through_across_both_workers(server):
    key, raw = make_key(OrgFactory.create(), rate_limit="10/m")
    wait_for_a_fresh_window(str(key.pk), 60, needed=20)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: get(server, raw).status_code, range(100)))
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 90
    assert len(server.workers()) == 2


def test_a_burst_on_a_batched_bucket_never_gets_more_than_its_limit_through(server):
    """Each worker reserves the key's tokens 7 at a time; together they never let more
    than 120 in, and fall short by at most what a worker still holds (a batch each)."""
    key, raw = make_key(OrgFactory.create(), rate_limit="120/m")
    wait_for_a_fresh_window(str(key.pk), 60, needed=30)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: get(server, raw).status_code, range(400)))
    assert set(statuses) == {200, 429}
    assert 120 - 2 * 7 <= statuses.count(200) <= 120, statuses.count(200)


def test_the_org_ceiling_stops_two_keys_each_under_their_own_limit(server):
    org = OrgFactory.create(settings={"rate_limits": {"org": "6/d"}})
    (_, a), (_, b) = make_key(org, rate_limit="10/d"), make_key(org, rate_limit="10/d")
    answers = [get(server, raw) for raw in (a, b) * 4]
    assert [r.status_code for r in answers] == [200] * 6 + [429] * 2
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited"
    assert refused.headers["RateLimit"].startswith('"org";r=0;')


def test_headers_count_down_name_the_tightest_bucket_and_retry_after_is_honest(server):
    key, raw = make_key(OrgFactory.create(), rate_limit="3/5s")
    wait_for_a_fresh_window(str(key.pk), 5, needed=3)
    answers = [get(server, raw) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert {r.headers["X-RateLimit-Limit"] for r in answers} == {"3"}
    assert answers[0].headers["RateLimit-Policy"] == '"key";q=3;w=5, "org";q=3000;w=60'
    assert all(r.headers["RateLimit"].startswith('"key";') for r in answers)
    reset = int(answers[-1].headers["X-RateLimit-Reset"])
    assert {int(r.headers["X-RateLimit-Reset"]) for r in answers} == {reset}
    retry_after = int(answers[-1].headers["Retry-After"])
    assert 1 <= retry_after <= 5
    assert abs(time.time() + retry_after - reset) <= 1.5
    if reset - time.time() > 1.2:  # still inside the window: still refused
        assert get(server, raw).status_code == 429
    time.sleep(max(0.0, reset - time.time()) + 0.05)
    again = get(server, raw)
    assert again.status_code == 200  # right when Retry-After said
    assert again.headers["X-RateLimit-Remaining"] == "2"  # a fresh window
    assert int(again.headers["X-RateLimit-Reset"]) == reset + 5


def test_a_spoofed_forwarded_for_gets_no_fresh_bucket(server):
    """The caller writes whatever it likes into X-Forwarded-For; the proxy appends the address
    it saw (203.0.113.7). Only that entry is believed, junk included."""
    spoofed = ["198.51.100.1", "198.51.100.2", "not-an-address", "10.0.0.1, 10.0.0.2", "::1"]
    answers = [
        httpx.get(
            f"{server.url}/api/users/me",
            headers={"X-Forwarded-For": f"{fake}, 203.0.113.7"},
            timeout=10,
        )
        for fake in [*spoofed, "198.51.100.9"]
    ]
    assert [r.status_code for r in answers] == [401] * 5 + [429]
    assert answers[0].headers["RateLimit"].startswith('"ip";r=4;')
    elsewhere = httpx.get(
        f"{server.url}/api/users/me", headers={"X-Forwarded-For": "203.0.113.8"}, timeout=10
    )
    assert elsewhere.status_code == 401  # another caller has a bucket of its own


def test_unicode_and_case_variants_of_one_email_share_a_bucket(server):
    """From four addresses (so no address bucket is spent), four spellings of one email."""
    spellings = ["admin@example.test", "ADMIN@example.test", "adm\u0131n@example.test"]
    answers = [
        httpx.post(
            f"{server.url}/api/auth/login",
            json={"email": email, "password": "wrong", "org_slug": "nowhere"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
            timeout=10,
        )
        for n, email in enumerate([*spellings, "Admin@Example.Test"])
    ]
    assert [r.status_code for r in answers] == [401, 401, 401, 429]
    assert answers[-1].headers["RateLimit"].startswith('"login-email";r=0;')


def test_usage_counts_match_the_requests_and_survive_a_worker_restart(server):
    org = OrgFactory.create()
    key, raw = make_key(org)
    for _ in range(7):
        assert get(server, raw).status_code == 200
    for _ in range(2):
        assert get(server, raw, "/api/members/999999").status_code == 404
    before = server.workers()
    server.process.send_signal(signal.SIGHUP)  # gunicorn replaces every worker
    deadline = time.monotonic() + 30
    while server.workers() & before or len(server.workers()) < 2:
        assert time.monotonic() < deadline, "workers were not replaced"
        time.sleep(0.2)
    server.wait_until_up()
    for _ in range(3):
        assert get(server, raw).status_code == 200
    # Each worker adds its counts to Redis within about a second of counting them (and the
    # worker that answers the read adds its own first): wait for the other worker's.
    name = f"{PREFIX}:{today().isoformat()}:{org.pk}:key:{key.pk}"
    redis = redis_client()
    assert redis is not None
    deadline = time.monotonic() + 10
    while int(redis.hget(name, "requests") or 0) < 12:
        assert time.monotonic() < deadline, redis.hgetall(name)
        time.sleep(0.1)
    body = get(server, raw, f"/api/usage?key_id={key.pk}").json()
    day = body["days"][-1]
    assert day["day"] == today().isoformat()
    # 12 requests before this one, which is counted as it is let in
    assert (day["requests"], day["status_2xx"], day["status_4xx"]) == (13, 11, 2)
    call_command("rollup_usage", "--days", "1", stdout=io.StringIO())
    row = DailyUsage.objects.for_org(org).get(api_key=key)
    assert (row.requests, row.status_2xx, row.status_4xx) == (13, 11, 2)
