"""Reservations: a process takes a batch of a fast bucket's tokens from Redis in one atomic
step and spends them without a round trip; no window admits more than its limit across
processes; small limits and exact mode stay one round trip per request."""

import math
import os
import threading
import time
from typing import Any

import pytest
import redis
from django.core.cache import caches
from django.test import RequestFactory
from django_ratelimit.core import _get_window

from orgs import ratelimits
from orgs.ratelimits import Bucket, spend
from tests.factories import OrgFactory
from tests.ratelimits.keys import make_key, with_key
from usage import counters

pytestmark = pytest.mark.django_db


@pytest.fixture
def trips(monkeypatch):
    """The Redis round trips this thread makes (a pipeline is one), by first command name."""
    made: list[str] = []
    real_send = redis.connection.AbstractConnection.send_packed_command
    me = threading.current_thread()

    def send(self, command, *args, **kwargs):
        if threading.current_thread() is me:  # not the usage flusher's
            packed = b"".join(command) if isinstance(command, list) else command
            made.append(packed.split(b"\r\n")[2].decode())
        return real_send(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)
    return made


def usage_redis() -> Any:
    client = counters.redis_client()
    assert client is not None
    return client


def shared_count(bucket: Bucket) -> int:
    """The bucket's count in Redis now (django-ratelimit's key for its current window)."""
    cache = caches["default"]
    planned = ratelimits._plan(bucket, int(time.time()))
    value = cache._cache.get_client(write=True).get(ratelimits._redis_key(cache, planned))  # type: ignore[attr-defined]
    return int(value or 0)


def test_exact_mode_is_one_round_trip_per_request(org, settings, trips):
    settings.RATE_RESERVATION_SECONDS = 0
    _, raw = make_key(org)
    client = with_key(raw)
    client.get("/api/users/me")  # the last-used marker is now set for a minute
    trips.clear()
    answers = [client.get("/api/users/me") for _ in range(5)]
    assert trips == ["EVALSHA"] * 5
    assert [r["X-RateLimit-Remaining"] for r in answers] == ["598", "597", "596", "595", "594"]


def test_a_fast_bucket_costs_a_round_trip_per_batch(settings, trips):
    settings.RATE_LIMIT_KEY, settings.RATE_LIMIT_ORG = "6000/m", "60000/m"  # batches of 100
    org = OrgFactory.create()
    _, raw = make_key(org)
    client = with_key(raw)
    client.get("/api/users/me")
    trips.clear()
    n = 250
    answers = [client.get("/api/users/me") for _ in range(n)]
    assert {r.status_code for r in answers} == {200}
    assert set(trips) == {"EVALSHA"}
    # ceil(n / 100) reservations, and a usage flush riding one more trip a second at most
    assert len(trips) <= math.ceil(n / 100) + 3, trips
    # One process alone: Remaining counts down one by one, from the limit.
    remaining = [int(r["X-RateLimit-Remaining"]) for r in answers]
    assert remaining == list(range(6000 - 2, 6000 - 2 - n, -1))


def test_a_small_limit_stays_one_round_trip_per_request_with_exact_headers(org, trips):
    _, raw = make_key(org, rate_limit="10/m")
    client = with_key(raw)
    client.get("/api/users/me")
    trips.clear()
    answers = [client.get("/api/users/me") for _ in range(3)]
    assert trips == ["EVALSHA"] * 3
    assert [r["X-RateLimit-Remaining"] for r in answers] == ["8", "7", "6"]


def test_a_bucket_known_spent_out_refuses_without_a_round_trip(org, trips):
    _, raw = make_key(org, rate_limit="2/d")
    client = with_key(raw)
    assert [client.get("/api/users/me").status_code for _ in range(2)] == [200, 200]
    org_plan = next(p for p in ratelimits._plans.values() if p.policy == "org")
    held = org_plan.held
    assert client.get("/api/users/me").status_code == 429  # asked Redis: spent out
    trips.clear()
    refused = client.get("/api/users/me")
    assert refused.status_code == 429
    assert trips == []  # counts only grow in a window: nothing to ask Redis
    reset = int(refused["X-RateLimit-Reset"])
    assert int(refused["Retry-After"]) == pytest.approx(reset - time.time(), abs=1.5)
    assert refused["RateLimit"].startswith('"key";r=0;')
    assert org_plan.held == held  # a refused request spends no other bucket's token


def test_a_partial_grant_lets_the_request_in_and_says_so():
    """A reservation that finds fewer tokens than it asked for gets the rest: the count in
    Redis passes the limit, yet this request was let in (``Spent.refused`` says so)."""
    request = RequestFactory().get("/")
    bucket = Bucket("key", "rl-partial", "p1", "40/d")
    other = ratelimits._plan(bucket, int(time.time()))
    cache = caches["default"]
    ratelimits._round_trip(cache, [(other, 39)])  # another process took 39
    [spent] = spend([bucket], request=request, exact=False)
    assert (spent.exceeded, spent.remaining) == (False, 0)
    [again] = spend([bucket], request=request, exact=False)
    assert again.exceeded


def _take_until_refused(bucket: Bucket, stop_after: int | None) -> tuple[int, bool]:
    """One limiter state: 3 threads taking tokens until refused (or, with ``stop_after``,
    one thread taking that many); how many it let in, and whether it then refuses."""
    if stop_after is not None:
        admitted = sum(not s.exceeded for _ in range(stop_after) for s in spend([bucket]))
        return admitted, True
    counted = [0]
    lock = threading.Lock()

    def work() -> None:
        while not spend([bucket])[0].exceeded:
            with lock:
                counted[0] += 1

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counted[0], spend([bucket])[0].exceeded  # once spent out, refused


def _reserve_in_processes(bucket: Bucket, processes: int, stop_after: dict[int, int]) -> list[int]:
    """Fork ``processes`` limiter states sharing the test's Redis (``_take_until_refused``);
    the requests each let in."""
    readers = []
    for i in range(processes):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: a fresh state (os.register_at_fork), the same Redis
            code = 1
            try:
                os.close(read)
                admitted, refuses = _take_until_refused(bucket, stop_after.get(i))
                os.write(write, f"{admitted} {int(refuses)}".encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        readers.append((pid, read))
    let_in = []
    for pid, read in readers:
        with os.fdopen(read) as out:
            got, refused = out.read().split()
        _, status = os.waitpid(pid, 0)
        assert status == 0
        assert refused == "1"
        let_in.append(int(got))
    return let_in


@pytest.mark.parametrize(
    ("rate", "seconds", "batch"),
    [("5000/d", 3600, 100), ("333/h", 120, 11), ("50/d", 86400, 3), ("3000/m", 1, 50)],
)
def test_no_window_admits_more_than_its_limit_across_processes(settings, rate, seconds, batch):
    settings.RATE_RESERVATION_SECONDS = seconds
    bucket = Bucket("key", "rl-many", f"many-{rate}", rate)
    limit, period = ratelimits.parse_rate(rate) or (0, 0)
    assert ratelimits._plan(bucket, int(time.time())).batch(seconds) == batch  # batches > 1
    ratelimits.forget_local_state()
    left = _get_window(bucket.value, period) + 1 - time.time()
    if left < 15:  # one window for the whole test
        time.sleep(left + 0.1)
    admitted = _reserve_in_processes(bucket, 4, {})
    # Every state kept asking until refused, so it spent all it held: exactly the limit.
    assert sum(admitted) == limit, admitted
    assert shared_count(bucket) >= limit
    [here] = spend([bucket])  # a fifth state: refused too
    assert here.exceeded


def test_a_process_that_stops_asking_withholds_at_most_its_batch(settings):
    settings.RATE_RESERVATION_SECONDS = 3600
    bucket = Bucket("key", "rl-withheld", "withheld", "5000/d")
    admitted = _reserve_in_processes(bucket, 4, {0: 1})  # process 0 takes one, then idles
    assert admitted[0] == 1
    assert 5000 - 99 <= sum(admitted) <= 5000, admitted  # at most its batch of 100, less one


def test_a_forked_child_holds_nothing_and_flushes_nothing_of_its_parents(
    org, settings, monkeypatch
):
    monkeypatch.setattr(counters, "FLUSH_SECONDS", 3600)  # the count stays pending here
    settings.RATE_LIMIT_KEY, settings.RATE_LIMIT_ORG = "6000/m", "60000/m"
    key, raw = make_key(org)
    client = with_key(raw)
    assert client.get("/api/users/me").status_code == 200
    counters.flush()
    client.get("/api/users/me")  # held tokens, and one pending usage count
    held = [p.held for p in ratelimits._plans.values()]
    assert max(held) > 0
    assert counters._buffer.hashes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            nothing = not ratelimits._plans and counters.take() is None
            counters.flush()  # (nothing to add)
            os.write(write, b"empty" if nothing else b"held")
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as out:
        assert out.read() == "empty"
    assert os.waitpid(pid, 0)[1] == 0
    name = f"{counters.PREFIX}:{counters.today().isoformat()}:{org.pk}:key:{key.pk}"
    client_redis = usage_redis()
    assert int(client_redis.hget(name, "requests")) == 1  # the child added nothing
    counters.flush()
    assert int(client_redis.hget(name, "requests")) == 2


def test_a_request_that_needs_redis_while_it_is_down_is_a_500_as_before(org, monkeypatch):
    """Redis unreachable: a request that needs a round trip fails as it always has (the
    error shape, 500); its usage counts (the request, a 5xx) wait for the next round trip."""
    key, raw = make_key(org, rate_limit="5/d")  # one round trip per request
    client = with_key(raw)
    client.raise_request_exception = False
    assert client.get("/api/users/me").status_code == 200

    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("redis is down")

    monkeypatch.setattr(ratelimits, "_run_spend_script", down)
    failed = client.get("/api/users/me")
    assert failed.status_code == 500
    assert set(failed.json()) == {"error", "code", "details", "request_id"}
    monkeypatch.undo()
    assert client.get("/api/users/me").status_code == 200
    counters.flush()
    name = f"{counters.PREFIX}:{counters.today().isoformat()}:{org.pk}:key:{key.pk}"
    assert usage_redis().hgetall(name) == {b"requests": b"3", b"5xx": b"1"}
