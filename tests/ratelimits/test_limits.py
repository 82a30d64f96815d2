"""Every API route is limited by its most specific principal, inside the org's ceiling."""

import time

import pytest
import redis
from django.test import RequestFactory
from django_ratelimit.core import get_usage
from rest_framework.test import APIClient

from orgs.ratelimits import Bucket, email_bucket_value, spend
from tests.factories import MembershipFactory, OrgFactory
from tests.ratelimits.keys import make_key, with_key

pytestmark = pytest.mark.django_db


def test_a_key_request_carries_the_headers_and_counts_down(org):
    _, raw = make_key(org, rate_limit="5/d")
    client = with_key(raw)
    first, second = client.get("/api/users/me"), client.get("/api/users/me")
    assert first.status_code == 200
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("5", "4")
    assert second["X-RateLimit-Remaining"] == "3"
    assert int(first["X-RateLimit-Reset"]) > time.time()
    assert first["RateLimit-Policy"] == '"key";q=5;w=86400, "org";q=3000;w=60'
    assert first["RateLimit"].startswith('"key";r=4;t=')


def test_past_its_limit_a_key_gets_429_with_an_honest_retry_after(org):
    _, raw = make_key(org, rate_limit="2/d")
    _, other = make_key(org)
    client = with_key(raw)
    assert [client.get("/api/users/me").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/api/users/me")
    assert refused.status_code == 429
    body = refused.json()
    assert set(body) == {"error", "code", "details", "request_id"}
    assert body["code"] == "rate_limited"
    reset = int(refused["X-RateLimit-Reset"])
    assert int(refused["Retry-After"]) == pytest.approx(reset - time.time(), abs=1.5)
    assert refused["X-RateLimit-Remaining"] == "0"
    assert with_key(other).get("/api/users/me").status_code == 200  # its own bucket


def test_the_org_ceiling_stops_keys_each_under_their_own_limit():
    org = OrgFactory.create(settings={"rate_limits": {"org": "3/d"}})
    (_, a), (_, b) = make_key(org), make_key(org)
    statuses = [with_key(k).get("/api/users/me").status_code for k in (a, b, a, b)]
    assert statuses == [200, 200, 200, 429]
    refused = with_key(b).get("/api/users/me")
    assert refused["RateLimit"].startswith('"org";r=0;')
    other_org = OrgFactory.create()
    assert with_key(make_key(other_org)[1]).get("/api/users/me").status_code == 200


def test_a_signed_in_person_has_a_bucket_per_org(org, as_member, settings):
    settings.RATE_LIMIT_USER = "2/d"
    alice = as_member(org)
    assert [alice.get("/api/users/me").status_code for _ in range(3)] == [200, 200, 429]
    assert alice.get("/api/users/me")["RateLimit"].startswith('"user";r=0;')
    assert as_member(org).get("/api/users/me").status_code == 200


def test_an_org_can_override_a_default(as_member, settings):
    settings.RATE_LIMIT_USER = "2/d"
    generous = OrgFactory.create(settings={"rate_limits": {"user": "5/d"}})
    client = as_member(generous)
    assert client.get("/api/users/me")["X-RateLimit-Limit"] == "5"


def test_a_broken_org_override_falls_back_to_the_default(as_member, settings):
    settings.RATE_LIMIT_USER = "7/d"
    odd = OrgFactory.create(settings={"rate_limits": {"user": "lots", "org": 12}})
    response = as_member(odd).get("/api/users/me")
    assert (response.status_code, response["X-RateLimit-Limit"]) == (200, "7")


def test_anonymous_answers_are_limited_by_client_address(settings):
    settings.RATE_LIMIT_ANONYMOUS = "2/d"
    client = APIClient(REMOTE_ADDR="198.51.100.20")
    statuses = [client.get("/api/users/me").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    elsewhere = APIClient(REMOTE_ADDR="198.51.100.21").get("/api/users/me")
    assert (elsewhere.status_code, elsewhere["RateLimit"][:5]) == (401, '"ip";')


def test_a_bad_credential_spends_the_address_bucket(settings):
    settings.RATE_LIMIT_ANONYMOUS = "1/d"
    client = APIClient(REMOTE_ADDR="198.51.100.30")
    client.credentials(HTTP_X_API_KEY="tnt_live_" + "0" * 72)
    assert [client.get("/api/users/me").status_code for _ in range(2)] == [401, 429]


def test_a_key_may_not_be_faster_than_the_orgs_per_key_rate(org, as_member, settings):
    settings.RATE_LIMIT_KEY = "60/m"
    owner = as_member(org, role="owner")
    too_fast = owner.post("/api/api-keys", {"name": "x", "rate_limit": "2/s"}, format="json")
    assert too_fast.status_code == 422
    assert "rate_limit" in too_fast.json()["details"]["fieldErrors"]
    junk = owner.post("/api/api-keys", {"name": "x", "rate_limit": "often"}, format="json")
    assert junk.status_code == 422
    ok = owner.post("/api/api-keys", {"name": "x", "rate_limit": "1000/d"}, format="json")
    assert (ok.status_code, ok.json()["rate_limit"]) == (201, "1000/d")
    key_id = ok.json()["id"]
    patched = owner.patch(f"/api/api-keys/{key_id}", {"rate_limit": "30/m"}, format="json")
    assert (patched.status_code, patched.json()["rate_limit"]) == (200, "30/m")


def test_a_key_above_a_lowered_org_rate_gets_the_orgs(org, settings):
    _, raw = make_key(org, rate_limit="100/m")
    settings.RATE_LIMIT_KEY = "10/m"  # lowered after the key was made
    assert with_key(raw).get("/api/users/me")["RateLimit-Policy"].startswith('"key";q=10;w=60')


def test_django_ratelimit_reads_the_same_counters():
    request = RequestFactory().get("/")
    bucket = Bucket("key", "rl-test", "k1", "10/d")
    spend([bucket, bucket], request=request)
    usage = get_usage(request, group="rl-test", key=lambda *_: "k1", rate="10/d")
    assert usage["count"] == 2


def test_a_key_request_within_its_reservation_costs_no_redis_round_trip(org, monkeypatch):
    """The first request reserved a batch of the key's tokens (600/m: 10) and of the org's
    (3000/m: 50) in one script call; the next is spent from them, with no round trip.
    (Exact mode, one per request: tests/ratelimits/test_reservations.py.)"""
    _, raw = make_key(org)
    client = with_key(raw)
    client.get("/api/users/me")  # the last-used marker is now set for a minute
    trips = []
    real_send = redis.connection.AbstractConnection.send_packed_command

    def send(self, command, *args, **kwargs):
        packed = b"".join(command) if isinstance(command, list) else command
        trips.append(packed.split(b"\r\n")[2].decode())
        return real_send(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)
    response = client.get("/api/users/me")
    assert response.status_code == 200
    assert trips == []
    assert response["X-RateLimit-Remaining"] == "598"


@pytest.mark.parametrize(
    ("spelling", "same"),
    [
        ("admin@example.test", True),
        ("ADMIN@example.test", True),
        ("adm\u0131n@example.test", True),  # dotless i: UPPER() makes it I
        ("\uff41dmin@example.test", True),  # fullwidth a: NFKC
        (" Admin@Example.Test ", True),
        ("admin2@example.test", False),
    ],
)
def test_email_spellings_the_lookup_confuses_share_a_bucket(spelling, same):
    assert (email_bucket_value(spelling) == email_bucket_value("admin@example.test")) is same


def test_a_redis_that_forgot_the_script_loads_it_again():
    from django.core.cache import caches

    request = RequestFactory().get("/")
    bucket = Bucket("key", "rl-forgotten", "k1", "10/d")
    assert [s.count for s in spend([bucket], request=request)] == [1]
    caches["default"]._cache.get_client(write=True).script_flush()  # type: ignore[attr-defined]
    assert [s.count for s in spend([bucket], request=request)] == [2]


def test_a_spend_connection_the_server_dropped_is_replaced_without_a_lost_or_double_count():
    from django.core.cache import caches

    request = RequestFactory().get("/")
    bucket = Bucket("key", "rl-dropped", "k1", "10/d")
    assert [s.count for s in spend([bucket], request=request)] == [1]
    client = caches["default"]._cache.get_client(write=True)  # type: ignore[attr-defined]
    client.client_kill_filter(_type="normal", skipme=False)  # every client, this one's too
    assert [s.count for s in spend([bucket], request=request)] == [2]
    assert [s.count for s in spend([bucket], request=request)] == [3]


def test_the_headers_written_straight_into_the_store_are_djangos_own():
    """set_headers writes the header store directly: the same as ``response[name] = value``."""
    from django.http import HttpResponse

    from config.ratelimiting import set_headers
    from orgs.ratelimits import Spent

    spent = [
        Spent(policy="key", count=3, limit=600, window=60, reset_at=int(time.time()) + 30),
        Spent(policy="org", count=9, limit=3000, window=60, reset_at=int(time.time()) + 20),
        Spent(policy="key", count=1, limit=5, window=86400, reset_at=int(time.time()) + 99),
    ]
    fast = HttpResponse()
    set_headers(fast, spent)
    django = HttpResponse()
    for name, value in fast.items():
        django[name] = value
    assert fast.headers._store == django.headers._store
    assert fast["ratelimit-policy"] == '"key";q=600;w=60, "org";q=3000;w=60'
    assert fast["X-RateLimit-Remaining"] == "4"  # the tightest: 5 - 1
    assert fast.serialize_headers() == django.serialize_headers()


def test_a_bucket_moves_to_its_next_window_when_the_window_ends(monkeypatch):
    """The bucket's plan (rate, window, Redis key) is kept while its window lasts only."""
    from orgs import ratelimits

    bucket = Bucket("key", "rl-window", "w1", "10/m")
    now = int(time.time())
    first = ratelimits._plan(bucket, now)
    assert ratelimits._plan(bucket, now) is first
    monkeypatch.setattr(ratelimits.time, "time", lambda: first.window + 1.5)
    monkeypatch.setattr("django_ratelimit.core.time.time", lambda: first.window + 1.5)
    later = ratelimits._plan(bucket, first.window + 1)
    assert later.window == first.window + 60


def test_remembered_buckets_follow_the_settings_the_org_and_the_keys_own_rate(org, settings):
    """buckets_for remembers an org-on-defaults principal's buckets; a changed default, an
    org override or a key's own rate still gives the buckets rebuilt from scratch."""
    from types import SimpleNamespace

    from orgs import ratelimits
    from orgs.context import OrgContext

    membership = MembershipFactory.create(org=org, role="admin")

    def key_context(rate=None):
        return OrgContext(membership, "api_key", credential_id=77, rate_limit=rate)

    def rates(context, scope=None):
        return [
            (b.group, b.value, b.rate) for b in ratelimits.buckets_for(None, context, scope=scope)
        ]

    settings.RATE_LIMIT_KEY, settings.RATE_LIMIT_ORG = "600/m", "3000/m"
    assert rates(key_context()) == [("rl-key", "77", "600/m"), ("rl-org", str(org.pk), "3000/m")]
    assert rates(key_context()) == rates(key_context())  # remembered: the same
    assert rates(key_context("10/m"))[0] == ("rl-key", "77", "10/m")
    assert rates(key_context(), scope="public")[0][:2] == ("rl-public-key", "77")
    user = OrgContext(membership, "jwt", credential_id=77)
    assert rates(user)[0] == ("rl-user", f"{org.pk}:{membership.user_id}", settings.RATE_LIMIT_USER)
    settings.RATE_LIMIT_KEY = "500/m"  # a changed default reaches the next request
    assert rates(key_context())[0] == ("rl-key", "77", "500/m")
    org.settings = {"rate_limits": {"key": "50/m"}}  # and so does the org's override
    assert rates(key_context())[0] == ("rl-key", "77", "50/m")
    listed = ratelimits.buckets_for(None, key_context())
    listed.clear()  # a caller changing its list changes nobody else's
    org.settings = {}
    assert len(ratelimits.buckets_for(None, key_context())) == 2
    assert ratelimits.buckets_for(SimpleNamespace(META={}), None)[0].policy == "ip"


def test_the_tightest_bucket_is_the_greatest_by_the_spent_properties():
    """``tightest`` writes ``Spent.exceeded`` and ``Spent.remaining`` out: the same choice
    as max() over (exceeded, -remaining, reset_at), the first of equals, on every mix."""
    import itertools
    import random

    from orgs.ratelimits import Spent, tightest

    chooser = random.Random(11)
    values = itertools.product([0, 3, 5, 9], [5], [40, 60], [0, 2], [None, True, False])
    kinds = [
        Spent(f"p{i}", count, limit, 60, reset_at, held, refused)
        for i, (count, limit, reset_at, held, refused) in enumerate(values)
    ]
    assert tightest([]) is None
    for _ in range(500):
        spent = chooser.sample(kinds, chooser.randint(1, 4))
        expected = max(spent, key=lambda s: (s.exceeded, -s.remaining, s.reset_at))
        assert tightest(spent) is expected
