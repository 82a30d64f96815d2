"""Tenantry benchmarks: `make bench` (or `.venv/bin/python bench/run.py [--requests N]`).

Prints figures and ratios; asserts nothing. Speed claims live here, never in tests.

1. API-key verification (shape + checksum + HMAC digest) against a password check with
   Django's default hasher: keys must cost microseconds, passwords are meant to be slow.
2. End to end on a throwaway PostgreSQL: GET /api/users/me with an API key and with a
   JWT, through the whole middleware and DRF stack (in-process client, no network).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn, repeat):
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    from tests.harness.postgres import TempPostgres
    from tests.harness.redis import TempRedis

    server = cache = None
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        server = TempPostgres().start()
        os.environ["DATABASE_URL"] = server.url
    if not os.environ.get("REDIS_URL"):
        cache = TempRedis()
        os.environ["REDIS_URL"] = cache.url
    # Production-like settings: DEBUG off (no query log), the test client's host allowed.
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY="bench-" + os.urandom(24).hex(),
        API_KEY_PEPPERS="k1:" + os.urandom(32).hex(),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
    )
    try:
        run(args.requests)
    finally:
        if server is not None:
            server.stop()
        if cache is not None:
            cache.stop()


def run(requests: int) -> None:
    import django

    django.setup()
    from django.contrib.auth.hashers import check_password, make_password
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from accounts.services import open_session, user_create
    from apikeys import crypto
    from apikeys.services import api_key_create
    from audit.actors import Actor, RequestContext
    from orgs.services import org_create

    print("== 1. credential verification cost (median of many runs)")
    raw = crypto.generate().raw

    def verify_key():
        parsed = crypto.parse(raw)
        assert parsed is not None
        crypto.candidate_digests(parsed.raw)

    encoded = make_password("correct horse battery staple")
    key_s = timed(verify_key, 20000)
    password_s = timed(lambda: check_password("correct horse battery staple", encoded), 20)
    print(f"api key parse+checksum+HMAC  {key_s * 1e6:10.1f} µs")
    print(f"password check (PBKDF2)      {password_s * 1e6:10.1f} µs")
    print(f"ratio password/key           {password_s / key_s:10.0f}x")

    print(f"\n== 2. GET /api/users/me end to end, {requests} requests each, real PostgreSQL")
    call_command("migrate", verbosity=0)
    system = Actor.system("bench")
    owner = user_create(actor=system, email="bench@bench.test", password="bench-pass-phrase-1")
    org = org_create(actor=system, slug="bench", name="Bench", owner=owner)
    from orgs.models import Membership

    membership = Membership.objects.for_org(org).select_related("user", "org").get()
    _, key = api_key_create(org=org, actor=system, creator=membership, name="bench")
    pair = open_session(membership=membership, context=RequestContext(), via="bench")

    for label, headers in (
        ("api key (X-API-Key)", {"HTTP_X_API_KEY": key}),
        ("jwt (Bearer)", {"HTTP_AUTHORIZATION": f"Bearer {pair.access_token}"}),
    ):
        client = APIClient()
        client.credentials(**headers)

        def me(client: APIClient = client) -> None:
            assert client.get("/api/users/me").status_code == 200

        me()  # warm: caches, pool, the once-a-minute last_used write
        statements: list[str] = []

        def count(execute, sql, params, many, context, statements=statements):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            me()
        per_request = timed(me, requests)
        print(
            f"{label:22s} median {per_request * 1e3:7.3f} ms/request  "
            f"~{1 / per_request:7.0f} req/s on one core  queries/request: {len(statements)}"
        )


if __name__ == "__main__":
    main()
